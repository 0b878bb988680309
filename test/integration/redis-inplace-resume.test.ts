import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { $ } from 'zx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../runbooks/local/process';
import { redisAnswers, startPrivateRedis, waitForRedis } from '../helpers/private-redis';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/**
 * In-place Redis restores killed at their worst moment (TICKVAULT_KILL_AT
 * makes the run SIGKILL itself there: deterministic, no sleeps). Checked
 * with redis-cli-level reads and by loading the saved RDB into a separate
 * redis-server.
 */
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
let server: Awaited<ReturnType<typeof startPrivateRedis>>;
let env: Record<string, string>;
let backupId: string;

const connect = (url: string) => {
  const r = new Redis(url, { retryStrategy: () => null, maxRetriesPerRequest: 1, lazyConnect: true });
  r.on('error', () => undefined);
  return r;
};
/** Keys of an RDB file, read by a throwaway redis-server (not by tickvault). */
async function keysOfRdb(file: string): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-rdbcheck-'));
  fs.copyFileSync(file, path.join(dir, 'dump.rdb'));
  const port = await freePort();
  await $`redis-server --port ${port} --bind 127.0.0.1 --dir ${dir} --dbfilename dump.rdb --daemonize yes --save ${''} --appendonly no`;
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url);
  const r = connect(url);
  try {
    await r.connect();
    return (await r.keys('*')).sort();
  } finally {
    await r.shutdown('NOSAVE').catch(() => undefined);
    r.disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  server = await startPrivateRedis(200);
  env = stackEnv({ BACKUP_REPO: `file://${repoDir}`, REDIS_URL: server.url });
  const backup = await runRunbook('backup', ['redis', '--json'], { env });
  expect(backup.code, backup.stdout).toBe(0);
  backupId = backup.summary!.id as string;
});

afterAll(async () => {
  await server.stop();
});

describe('Redis in-place restore survives kill -9', () => {
  for (const point of ['redis-after-shutdown', 'redis-after-replace']) {
    it(`killed at ${point}: Redis is down, a re-run finishes the restore, and the live data saved before SHUTDOWN is kept beside the RDB`, async () => {
      const r = connect(server.url);
      await r.connect();
      await r.set(`live:only:${point}`, 'written after the backup, never saved by Redis itself');
      r.disconnect();
      const args = ['redis', '--backup', backupId, '--in-place', '--yes', '--json'];
      const killed = await runRunbook('restore', args, { env: { ...env, TICKVAULT_KILL_AT: point } });
      expect(killed.code).not.toBe(0);
      expect(killed.summary).toBeUndefined(); // died without a summary: a real crash
      expect(await redisAnswers(server.url)).toBe(false);

      const resumed = await runRunbook('restore', args, { env });
      expect(resumed.code, resumed.stdout).toBe(0);
      expect(resumed.events.some((e) => e.event === 'warn' && String(e.message).includes('resuming'))).toBe(true);
      const after = connect(server.url);
      await after.connect();
      expect(await after.dbsize()).toBe(200);
      expect(await after.exists(`live:only:${point}`)).toBe(0);
      after.disconnect();
      const previous = resumed.summary!.previousRdb as string;
      expect(path.dirname(previous)).toBe(server.dir);
      expect(await keysOfRdb(previous)).toContain(`live:only:${point}`);
    });
  }
});
