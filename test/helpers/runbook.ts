import { spawn } from 'node:child_process';
import path from 'node:path';

export const root = path.resolve(import.meta.dirname, '..', '..');

export interface RunbookOutput {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as NDJSON (throws if any line is not JSON). */
  events: Record<string, unknown>[];
  summary: Record<string, unknown> | undefined;
}

/**
 * The command a runbook runs as: `tickvault <name>` (bin/tickvault.js: the
 * built bundle when it is current, else the sources), the way users run it;
 * TICKVAULT_TEST_ENTRY=sources runs `tsx runbooks/<name>.ts` instead.
 */
const entry = (name: string): string[] =>
  process.env.TICKVAULT_TEST_ENTRY === 'sources' ? ['--import', 'tsx', path.join(root, 'runbooks', `${name}.ts`)] : [path.join(root, 'bin', 'tickvault.js'), name];

/** Run a runbook as a real process, the way users do. */
export function runRunbook(name: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunbookOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry(name), ...args], {
      cwd: root,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.split('\n').filter((l) => l.trim() !== '');
      const events = args.includes('--json') ? lines.map((l) => JSON.parse(l) as Record<string, unknown>) : [];
      resolve({ code: code ?? -1, stdout, stderr, events, summary: events.findLast((e) => e.event === 'summary') });
    });
    child.stdin.end(opts.input ?? '');
  });
}
