import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { $ } from '../../runbooks/engine/shell';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../runbooks/engine/errors';
import { Masker } from '../../runbooks/engine/mask';
import { Run } from '../../runbooks/engine/run';
import { stopWithRun } from '../../runbooks/stores/postgres/children';
import { root } from '../helpers/runbook';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-exit-'));
  process.env.TICKVAULT_HOME = home;
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

function newRun(): { run: Run; out: () => Record<string, unknown>[] } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  const run = new Run({ runbook: 'exit-test', json: true, dryRun: false, yes: true, masker: new Masker(), stdout, stderr: new PassThrough() });
  return { run, out: () => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('exit-code contract on failure paths', () => {
  it('exit 2 only while nothing was changed: a config error after a changing step is exit 1', async () => {
    const before = newRun();
    await before.run.step('read', async () => undefined, { readOnly: true });
    expect(await before.run.finish({ error: new ConfigError('bad url') })).toBe(2);
    const after = newRun();
    await after.run.step('create the target', async () => after.run.markChanged());
    expect(await after.run.finish({ error: new ConfigError('bad url') })).toBe(1);
    expect(after.out().at(-1)).toMatchObject({ event: 'summary', exitCode: 1 });
  });

  it('writing after the audit log is closed does not crash, and nothing follows the summary', async () => {
    const { run, out } = newRun();
    expect(await run.finish({})).toBe(0);
    expect(() => {
      run.warn('late');
      run.auditRaw({ kind: 'cmd', cmd: 'late' });
      run.info('late');
    }).not.toThrow();
    expect(out().at(-1)).toMatchObject({ event: 'summary' });
    expect(fs.readFileSync(run.auditFile!, 'utf8')).not.toContain('late');
    expect(await run.finish({ error: new Error('twice') })).toBe(0);
  });

  it('a child tool still running when the run fails is stopped', async () => {
    const { run } = newRun();
    const child = stopWithRun(run, $`sleep 60`.nothrow());
    await new Promise<void>((resolve) => child.child!.once('spawn', () => resolve()));
    const pid = child.pid!;
    expect(alive(pid)).toBe(true);
    expect(await run.finish({ error: new Error('a later step failed') })).toBe(1);
    await child;
    expect(alive(pid)).toBe(false);
  });

  it('a stray rejection fails the run with a summary whose exitCode is the process exit code', async () => {
    const script = path.join(home, 'stray.mts');
    fs.writeFileSync(
      script,
      `import { runCli } from ${JSON.stringify(path.join(root, 'runbooks/engine/cli.ts'))};
       await runCli({ runbook: 'stray', usage: 'x', async main({ run }) {
         await run.step('write', async () => { void Promise.reject(new Error('dangling promise')); await new Promise(() => undefined); });
         return {};
       } });`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--json'], { cwd: root, env: { ...process.env, TICKVAULT_HOME: home } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stdout, stderr).not.toBe('');
    const summaries = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === 'summary');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ exitCode: 1, error: { message: 'dangling promise' } });
    expect(code).toBe(1);
  });
});
