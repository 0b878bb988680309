import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { $ } from 'zx';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, waitFor } from '../../runbooks/local/process';
import { waitForRedis } from '../helpers/private-redis';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

// A private redis-server, so in-place restores never disturb other tests.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-redis-'));
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
const password = crypto.randomBytes(9).toString('hex');
let url: string;
let env: Record<string, string>;
let redis: Redis;

async function digest(r: Redis): Promise<string> {
  const keys = (await r.keys('*')).sort();
  const hash = crypto.createHash('sha256');
  for (const key of keys) hash.update(`${key}=${JSON.stringify((await r.type(key)) === 'hash' ? await r.hgetall(key) : await r.get(key))}\n`);
  return `${keys.length}:${hash.digest('hex')}`;
}

beforeAll(async () => {
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'redis.conf'), `port ${port}\nbind 127.0.0.1\nrequirepass ${password}\ndir ${dir}\ndaemonize yes\npidfile ${dir}/redis.pid\nlogfile ${dir}/redis.log\nappendonly no\nsave ""\n`);
  await $`redis-server ${path.join(dir, 'redis.conf')}`;
  url = `redis://default:${password}@127.0.0.1:${port}`;
  await waitForRedis(url);
  redis = client(url);
  env = stackEnv({ BACKUP_REPO: `file://${repoDir}`, REDIS_URL: url });
  const pipe = redis.pipeline();
  for (let i = 0; i < 3000; i++) pipe.set(`bar:1m:EURUSD:${i}`, JSON.stringify({ c: 1.1 + i / 1e5 }));
  for (let i = 0; i < 50; i++) pipe.hset(`market:snapshot:S${i}`, { price: String(i), ts: '2026-01-18T00:00:00Z' });
  await pipe.exec();
});

// Servers that restores start are registered with the test stack and stopped by its teardown.
afterAll(async () => {
  redis.disconnect();
  await $`redis-cli -u ${url} --no-auth-warning SHUTDOWN NOSAVE`.nothrow();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One connection, no reconnect loop: a restore stops this server on purpose. */
function client(target: string): Redis {
  const r = new Redis(target, { retryStrategy: () => null, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  return r;
}

describe('Redis RDB backup and restore', () => {
  let backupId: string;

  it('backs up through BGSAVE; the artifact passes redis-check-rdb on its own', async () => {
    const backup = await runRunbook('backup', ['redis', '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    backupId = backup.summary!.id as string;
    const rdb = path.join(repoDir, env.TICKVAULT_ENV!, 'redis', backupId, 'dump.rdb');
    const check = await $`redis-check-rdb ${rdb}`;
    expect(check.stdout).toMatch(/RDB looks OK/);
    expect(backup.stdout).not.toContain(password);
  });

  it('round trip into a new server: same keys and values', async () => {
    const restore = await runRunbook('restore', ['redis', '--backup', backupId, '--json'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary).toMatchObject({ dbsize: 3050, fingerprintCompared: true, objectives: { rpoMet: true }, recoveryPoint: { basis: 'RDB save time' } });
    const target = new URL(restore.summary!.targetUrl as string);
    target.password = password;
    const restored = client(target.toString());
    expect(await digest(restored)).toBe(await digest(redis));
    restored.disconnect();
    // The restored server's data is private: its folder 0700, the RDB 0600.
    const restores = path.join(inject('stack').home, 'local', 'restores');
    const mine = fs.readdirSync(restores).map((d) => path.join(restores, d)).find((d) => fs.readFileSync(path.join(d, 'redis.conf'), 'utf8').includes(`port ${target.port}`))!;
    expect(fs.statSync(mine).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(mine, 'dump.rdb')).mode & 0o777).toBe(0o600);
  });

  it('in place after a wipe, with AOF on: AOF is set aside, data comes back, AOF is on again', async () => {
    const before = await digest(redis);
    await redis.config('SET', 'appendonly', 'yes');
    await waitFor(async () => (await redis.info('persistence')).includes('aof_rewrite_in_progress:0'), 10_000);
    await redis.flushall();
    const refused = await runRunbook('restore', ['redis', '--backup', backupId, '--in-place', '--json'], { env });
    expect(refused.code).toBe(4);
    expect(await redis.dbsize()).toBe(0);
    const restore = await runRunbook('restore', ['redis', '--backup', backupId, '--in-place', '--yes', '--json', '--scenario', 'deletion'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    redis.disconnect();
    redis = client(url);
    expect(await digest(redis)).toBe(before);
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  });

  it('a tampered RDB is refused (exit 3) and the live server keeps running untouched', async () => {
    const rdb = path.join(repoDir, env.TICKVAULT_ENV!, 'redis', backupId, 'dump.rdb');
    const original = fs.readFileSync(rdb);
    const bad = Buffer.from(original);
    bad[20]! ^= 0x55;
    fs.writeFileSync(rdb, bad);
    try {
      await redis.set('written-after-backup', 'still here');
      const restore = await runRunbook('restore', ['redis', '--backup', backupId, '--in-place', '--yes', '--json'], { env });
      expect(restore.code).toBe(3);
      expect(await redis.get('written-after-backup')).toBe('still here');
    } finally {
      fs.writeFileSync(rdb, original);
    }
  });

  it('a wrong Redis password is a config error (exit 2)', async () => {
    const wrong = new URL(url);
    wrong.password = 'nope-nope';
    const backup = await runRunbook('backup', ['redis', '--json', '--redis-url', wrong.toString()], { env });
    expect(backup.code).toBe(2);
    expect(backup.stdout).not.toContain('nope-nope');
  });
});
