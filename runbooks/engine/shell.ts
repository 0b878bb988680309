import { $ } from 'zx/core';
import { logCommand } from './command-log';

/**
 * zx for the runbooks: every runbook imports `$` from here, never from 'zx'
 * (a unit test holds this), so zx's command log always goes to the run's
 * audit log (masked there) and zx stays quiet on the terminal: runbooks
 * print through the run's sinks only. zx loads with the first runbook that
 * needs it, not at start-up, and only its core: the full package also
 * loads its vendored globby, yaml, fetch and more (about 75 ms of CPU
 * against 20 ms for zx/core).
 */
$.verbose = false;
$.quiet = true;
$.log = (entry) => {
  switch (entry.kind) {
    case 'cmd':
      logCommand({ event: 'cmd', cmd: entry.cmd, cwd: entry.cwd, id: entry.id });
      break;
    case 'stderr':
    case 'stdout':
      logCommand({ event: entry.kind, id: entry.id, data: entry.data.toString('utf8').slice(0, 4000) });
      break;
    case 'end':
      logCommand({ event: 'cmd-end', id: entry.id, exitCode: entry.exitCode, ms: Math.round(entry.duration) });
      break;
    default:
      logCommand({ event: 'zx', kind: entry.kind });
  }
};

export { $ };
export type { ProcessOutput, ProcessPromise } from 'zx/core';
