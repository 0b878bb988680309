import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { acquireFileLock, lockFileFor } from '../../runbooks/engine/lock';
import { postgresIdentity, serviceIdentity } from '../../runbooks/recovery/target-identity';
import { createDatabase } from '../helpers/databases';
import { root, runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-locks-'));
const DEAD_PID = 2 ** 22 + 12345; // above pid_max: no such process

/** Start contenders at once; resolve with each one's verdict once all have one (they keep holding). */
async function contend(target: string, count: number): Promise<{ verdicts: string[]; children: ChildProcessWithoutNullStreams[] }> {
  const children = Array.from({ length: count }, (_, i) =>
    spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test', 'fixtures', 'lock-contender.ts'), target, `run-${i}`], { cwd: root, env: { ...process.env, TICKVAULT_HOME: home } }),
  );
  const verdicts = await Promise.all(
    children.map(
      (child) =>
        new Promise<string>((resolve) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) resolve(out.trim());
          });
          child.on('close', () => resolve(out.trim() || 'died'));
        }),
    ),
  );
  return { verdicts, children };
}

const release = (children: ChildProcessWithoutNullStreams[]) => Promise.all(children.map((c) => new Promise((r) => (c.on('close', r), c.stdin.end()))));

beforeAll(() => {
  process.env.TICKVAULT_HOME = home;
});
afterAll(() => {
  delete process.env.TICKVAULT_HOME;
  fs.rmSync(home, { recursive: true, force: true });
});

describe('locks', () => {
  it('a stale lock is taken over by exactly one of many processes racing for it', async () => {
    for (let round = 0; round < 4; round++) {
      const target = `race-${round}`;
      const file = lockFileFor(target);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ pid: DEAD_PID, host: os.hostname(), run: 'killed-run', started: '2020-01-01T00:00:00Z' }));
      const { verdicts, children } = await contend(target, 6);
      await release(children);
      expect(verdicts.filter((v) => v === 'acquired'), verdicts.join(', ')).toHaveLength(1);
      expect(verdicts.filter((v) => v === 'refused TV_LOCK_HELD')).toHaveLength(5);
    }
  });

  it('a lock of another host is never judged by pid: held while its lease runs, taken over once it expired', async () => {
    const write = (target: string, fields: Record<string, unknown>) => {
      fs.mkdirSync(path.dirname(lockFileFor(target)), { recursive: true });
      fs.writeFileSync(lockFileFor(target), JSON.stringify({ pid: DEAD_PID, host: 'another-host', run: 'remote', started: '2020-01-01T00:00:00Z', ...fields }));
    };
    write('remote-no-lease', {});
    await expect(acquireFileLock('t', 'remote-no-lease', 'me')).rejects.toMatchObject({ code: 'TV_LOCK_HELD' });
    write('remote-live', { leaseUntil: new Date(Date.now() + 600_000).toISOString() });
    await expect(acquireFileLock('t', 'remote-live', 'me')).rejects.toMatchObject({ code: 'TV_LOCK_HELD' });
    write('remote-expired', { leaseUntil: new Date(Date.now() - 1000).toISOString() });
    const lock = await acquireFileLock('t', 'remote-expired', 'me');
    expect(JSON.parse(fs.readFileSync(lockFileFor('remote-expired'), 'utf8'))).toMatchObject({ run: 'me', host: os.hostname(), leaseUntil: expect.any(String) });
    await lock.release();
  });

  it('keyed by what the target is, not how its URL is spelled: localhost and 127.0.0.1 are one Redis and one database', async () => {
    const redisLocal = new URL(stack.redisUrl);
    redisLocal.hostname = 'localhost';
    const redis127 = new URL(stack.redisUrl);
    redis127.hostname = '127.0.0.1';
    expect(await serviceIdentity('redis', redisLocal.toString())).toBe(await serviceIdentity('redis', redis127.toString()));

    const db = new URL(await createDatabase(stack.postgresUrl, 'lockid'));
    db.hostname = 'localhost';
    const other = new URL(db);
    other.hostname = '127.0.0.1';
    expect(await postgresIdentity(db.toString())).toBe(await postgresIdentity(other.toString()));
    expect(await postgresIdentity(db.toString())).toMatch(/^postgres:cluster-\d+\//);

    // A backup through one spelling while a restore holds the other: refused (exit 4).
    const held = await acquireFileLock('restore', await postgresIdentity(db.toString()), 'restore-run');
    try {
      const env = stackEnv({ BACKUP_REPO: `file://${fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'))}`, TICKVAULT_HOME: home, DATABASE_URL: other.toString() });
      const backup = await runRunbook('backup', ['postgres', '--json'], { env });
      expect(backup.code, backup.stdout).toBe(4);
      expect(backup.events.find((e) => e.event === 'error')?.message).toMatch(/another restore run/);
    } finally {
      await held.release();
    }
  });
});
