import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Redis } from 'ioredis';
import { $ } from '../../engine/shell';
import { ConfigError, VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import { formatBytes } from '../../engine/format';
import type { Run } from '../../engine/run';
import { waitFor } from '../../engine/wait';
import { backupPrefix, writeManifest, type Manifest } from '../../repository/manifest';
import { startBackup } from '../../repository/writing-lease';
import type { Repository } from '../../repository/repository';
import { stagingDir } from '../../repository/transfer';
import { connectRedis, infoField } from './connect';
import { fingerprintRedis } from './fingerprint';

export interface RdbBackupOptions {
  redisUrl: string;
  repo: Repository;
  env: string;
}

export async function checkRdb(file: string): Promise<void> {
  const out = await $`redis-check-rdb ${file}`.nothrow();
  if (out.exitCode !== 0 || !/RDB looks OK/.test(out.stdout + out.stderr)) {
    throw new VerificationError(`redis-check-rdb rejects ${path.basename(file)}: ${(out.stdout + out.stderr).trim().split('\n').slice(-2).join(' ')}`);
  }
}

/** BGSAVE and wait until LASTSAVE moves with a clean status; returns the save time. */
export async function bgsave(redis: Redis): Promise<Date> {
  const last = await redis.lastsave();
  // rdb_saves (Redis 7) counts saves, so two saves within one LASTSAVE second are told apart.
  const saves = Number((await infoField(redis, 'persistence', 'rdb_saves')) ?? NaN);
  try {
    await redis.bgsave();
  } catch (error) {
    if (!/already in progress/i.test((error as Error).message)) throw error;
  }
  let status = '';
  const done = await waitFor(async () => {
    const inProgress = await infoField(redis, 'persistence', 'rdb_bgsave_in_progress');
    status = (await infoField(redis, 'persistence', 'rdb_last_bgsave_status')) ?? '';
    const moved = Number.isNaN(saves) ? (await redis.lastsave()) > last : Number(await infoField(redis, 'persistence', 'rdb_saves')) > saves;
    return inProgress === '0' && moved;
  }, 600_000, 100);
  if (!done || status !== 'ok') throw new VerificationError(`BGSAVE did not finish cleanly (status ${status || 'timeout'})`);
  return new Date((await redis.lastsave()) * 1000);
}

/**
 * BGSAVE, wait for LASTSAVE to move with a clean status, copy the RDB (it is
 * renamed into place atomically, so copying while Redis runs is safe),
 * check it with redis-check-rdb, and upload it with its sha256.
 */
export async function rdbBackup(run: Run, opts: RdbBackupOptions): Promise<Manifest> {
  const startedAt = new Date();
  const id = await startBackup(run, opts.repo, opts.env, 'redis', 'rdb', startedAt);
  const redis = await run.step('connect', () => connectRedis(opts.redisUrl), { readOnly: true });
  run.onCleanup(() => redis.disconnect());
  const [version, dirReply, fileReply, aof] = await Promise.all([
    infoField(redis, 'server', 'redis_version'),
    redis.config('GET', 'dir') as Promise<string[]>,
    redis.config('GET', 'dbfilename') as Promise<string[]>,
    infoField(redis, 'persistence', 'aof_enabled'),
  ]);
  const rdbPath = path.join(dirReply[1]!, fileReply[1]!);

  const before = await run.step('fingerprint key sample', () => fingerprintRedis(redis), { readOnly: true });

  const savedAt = await run.step('BGSAVE and wait for LASTSAVE', () => bgsave(redis), { dryRunResult: new Date() });
  if (run.dryRun) return undefined as unknown as Manifest;

  if (!fs.existsSync(rdbPath)) {
    throw new ConfigError(`the RDB file ${rdbPath} is not readable from here`, { hint: 'run the Redis backup on the Redis host (for ElastiCache use its S3 snapshot export)' });
  }
  const staging = stagingDir(path.join(stateRoot(), 'tmp'), id);
  fs.mkdirSync(staging, { recursive: true });
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));
  const copy = path.join(staging, 'dump.rdb');

  await run.step('copy and check RDB (redis-check-rdb)', async () => {
    await pipeline(fs.createReadStream(rdbPath), fs.createWriteStream(copy));
    await checkRdb(copy);
  });

  const after = await fingerprintRedis(redis);
  const stable = after.hash === before.hash && after.dbsize === before.dbsize;
  if (!stable) run.warn('Redis changed while the backup ran; restore will not compare the key-sample fingerprint');

  const stored = await run.step('upload to repository', async (step) => {
    const result = await opts.repo.put(`${backupPrefix(opts.env, 'redis', id)}/dump.rdb`, fs.createReadStream(copy));
    step.note(`${formatBytes(result.size)} → ${opts.repo.url}`);
    return result;
  });

  const manifest: Manifest = {
    formatVersion: 1,
    id,
    env: opts.env,
    store: 'redis',
    kind: 'rdb',
    tool: { name: 'redis BGSAVE', version: version ?? 'unknown' },
    server: { version: version ?? 'unknown', extensions: {} },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    dataUpTo: savedAt.toISOString(),
    recoveryPoint: savedAt.toISOString(),
    files: [{ path: 'dump.rdb', size: stored.size, sha256: stored.sha256 }],
    tables: [],
    details: { dbsize: before.dbsize, fingerprint: stable ? before : null, aofEnabled: aof === '1' },
    checks: ['BGSAVE status ok', 'redis-check-rdb', 'sha256 of dump.rdb', ...(stable ? ['key-sample fingerprint stable during backup'] : [])],
  };
  await run.step('write manifest', () => writeManifest(opts.repo, manifest));
  return manifest;
}
