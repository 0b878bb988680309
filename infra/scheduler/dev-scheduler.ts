/**
 * The dev stack's scheduler container: runs the same job list as prod's
 * EventBridge schedules (infra/jobs.ts, passed as TICKVAULT_JOBS) against
 * the dev stores, and logs each run's exit code as one JSON line.
 *   npx tsx infra/scheduler/dev-scheduler.ts
 */
import { spawn } from 'node:child_process';
import type { RunbookJob } from '../jobs';
import { nextRun } from './cron';

const jobs = JSON.parse(process.env.TICKVAULT_JOBS ?? '[]') as RunbookJob[];
if (jobs.length === 0) {
  process.stderr.write('dev-scheduler: TICKVAULT_JOBS is empty\n');
  process.exit(2);
}
for (const job of jobs) nextRun(job.cron, new Date()); // refuse a bad expression at start, not at 3 a.m.

const log = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...fields })}\n`);

function run(job: RunbookJob): Promise<number> {
  const [file = 'npx', ...args] = [...(job.entryPoint ?? ['npx', 'tsx']), ...job.command];
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit' });
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 1));
  });
}

function schedule(job: RunbookJob): void {
  const at = nextRun(job.cron, new Date());
  log({ job: job.id, event: 'scheduled', at: at.toISOString() });
  setTimeout(async () => {
    log({ job: job.id, event: 'start' });
    const code = await run(job);
    log({ job: job.id, event: code === 0 ? 'ok' : 'failed', exitCode: code });
    schedule(job);
  }, at.getTime() - Date.now());
}

for (const job of jobs) schedule(job);
