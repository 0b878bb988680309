import { $ } from 'zx';
import type { Run } from './run';

/**
 * Route zx's command log into the run's audit log (masked there), and keep
 * zx quiet on the terminal: runbooks print through the run's sinks only.
 */
export function routeZxLog(run: Run): void {
  $.verbose = false;
  $.quiet = true;
  $.log = (entry) => {
    switch (entry.kind) {
      case 'cmd':
        run.auditRaw({ event: 'cmd', cmd: entry.cmd, cwd: entry.cwd, id: entry.id });
        break;
      case 'stderr':
      case 'stdout':
        run.auditRaw({ event: entry.kind, id: entry.id, data: entry.data.toString('utf8').slice(0, 4000) });
        break;
      case 'end':
        run.auditRaw({ event: 'cmd-end', id: entry.id, exitCode: entry.exitCode, ms: Math.round(entry.duration) });
        break;
      default:
        run.auditRaw({ event: 'zx', kind: entry.kind });
    }
  };
}
