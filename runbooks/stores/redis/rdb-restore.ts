import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { ConfigError, VerificationError } from '../../engine/errors';
import { localDir, stateRoot } from '../../engine/paths';
import type { Run } from '../../engine/run';
import { choosePort, pidAlive, waitFor } from '../../local/process';
import { redisUrlFor, startRedis, writeRedisConf } from '../../local/redis-server';
import { chownTree, serviceUser } from '../../local/service-user';
import { registerExtraRedis } from '../../local/state';
import type { Manifest } from '../../repository/manifest';
import type { Repository } from '../../repository/repository';
import { downloadVerified, stagingDir } from '../../repository/transfer';
import { connectRedis, infoField } from './connect';
import { fingerprintRedis, type RedisFingerprint } from './fingerprint';
import { checkRdb } from './rdb-backup';

export interface RdbRestoreOptions {
  repo: Repository;
  manifest: Manifest;
  /** The live server (in-place) or the source whose password a new server reuses. */
  redisUrl: string;
  inPlace: boolean;
}

export interface RdbRestoreResult {
  targetUrl: string;
  dbsize: number;
  fingerprintCompared: boolean;
  previousRdb?: string;
}

async function verifyRestored(url: string, manifest: Manifest): Promise<{ dbsize: number; compared: boolean }> {
  const redis = await connectRedis(url, 'restored Redis');
  try {
    const expected = manifest.details.fingerprint as RedisFingerprint | null | undefined;
    const got = await fingerprintRedis(redis);
    if (got.dbsize !== manifest.details.dbsize) throw new VerificationError(`restored Redis has ${got.dbsize} keys, the backup had ${String(manifest.details.dbsize)}`);
    if (expected && got.hash !== expected.hash) throw new VerificationError('restored Redis key-sample fingerprint differs from the backup');
    return { dbsize: got.dbsize, compared: Boolean(expected) };
  } finally {
    redis.disconnect();
  }
}

/** What an in-place restore needs to know about the live server, checked before anything stops. */
async function inspectLiveServer(url: string) {
  const redis = await connectRedis(url);
  try {
    const [dir, file, configFile, pid, aof, appendDir] = await Promise.all([
      redis.config('GET', 'dir') as Promise<string[]>,
      redis.config('GET', 'dbfilename') as Promise<string[]>,
      infoField(redis, 'server', 'config_file'),
      infoField(redis, 'server', 'process_id'),
      redis.config('GET', 'appendonly') as Promise<string[]>,
      redis.config('GET', 'appenddirname') as Promise<string[]>,
    ]);
    const live = { dir: dir[1]!, rdb: path.join(dir[1]!, file[1]!), configFile: configFile ?? '', pid: Number(pid), aof: aof[1] === 'yes', appendDir: appendDir[1] ?? 'appendonlydir' };
    if (!live.configFile || !fs.existsSync(live.configFile)) throw new ConfigError('in-place Redis restore needs a server started from a config file on this host (INFO server config_file)');
    if (!pidAlive(live.pid)) throw new ConfigError(`the Redis server (pid ${live.pid}) is not on this host; restore into a new server instead`);
    return live;
  } finally {
    redis.disconnect();
  }
}

export async function rdbRestore(run: Run, opts: RdbRestoreOptions): Promise<RdbRestoreResult> {
  const { manifest } = opts;
  const staging = stagingDir(path.join(stateRoot(), 'tmp'), manifest.id);
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));
  const rdb = path.join(staging, 'dump.rdb');
  const live = opts.inPlace ? await run.step('inspect live server', () => inspectLiveServer(opts.redisUrl), { readOnly: true }) : undefined;

  await run.step('download, check sha256 and redis-check-rdb', async () => {
    await downloadVerified(opts.repo, manifest, staging);
    await checkRdb(rdb);
  }, { readOnly: true });

  const user = await serviceUser();
  if (!live) {
    const name = `redis-${crypto.randomBytes(3).toString('hex')}`;
    const dir = path.join(localDir(), 'restores', name);
    const port = await choosePort(undefined);
    const password = decodeURIComponent(new URL(opts.redisUrl).password) || crypto.randomBytes(12).toString('base64url');
    await run.step('start a new Redis from the RDB', async (step) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(rdb, path.join(dir, 'dump.rdb'));
      writeRedisConf({ dir, port, password });
      chownTree(dir, user);
      await startRedis({ dir, port, password }, user);
      registerExtraRedis({ name, dir, port });
      step.note(`port ${port}`);
    });
    const targetUrl = redisUrlFor(port, password);
    if (run.dryRun) return { targetUrl, dbsize: 0, fingerprintCompared: false };
    const verified = await run.step('verify DBSIZE and key-sample fingerprint', () => verifyRestored(targetUrl, manifest));
    return { targetUrl, dbsize: verified.dbsize, fingerprintCompared: verified.compared };
  }

  const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15);
  const previousRdb = `${live.rdb}.tv-pre-restore-${stamp}`;
  await run.step('stop Redis without saving (SHUTDOWN NOSAVE)', async () => {
    const redis = await connectRedis(opts.redisUrl);
    await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined); // the connection drops as it exits
    redis.disconnect();
    if (!(await waitFor(() => !pidAlive(live.pid), 30_000))) throw new Error(`Redis pid ${live.pid} did not exit`);
  }, { confirm: { action: 'replace the whole Redis dataset', target: new URL(opts.redisUrl).port ? `redis:${new URL(opts.redisUrl).port}` : 'redis' } });

  await run.step('replace the RDB (AOF set aside)', async () => {
    if (fs.existsSync(live.rdb)) fs.renameSync(live.rdb, previousRdb);
    const incoming = `${live.rdb}.tv-incoming`;
    fs.copyFileSync(rdb, incoming);
    const owner = fs.statSync(live.dir);
    fs.chownSync(incoming, owner.uid, owner.gid);
    fs.renameSync(incoming, live.rdb);
    // With AOF on, Redis would load the AOF and ignore the RDB.
    const appendDir = path.join(live.dir, live.appendDir);
    if (live.aof && fs.existsSync(appendDir)) fs.renameSync(appendDir, `${appendDir}.tv-pre-restore-${stamp}`);
  });

  await run.step('start Redis', async () => {
    const args = live.aof ? ['--appendonly', 'no'] : [];
    const prefix = user.prefix.length && fs.statSync(live.dir).uid !== 0 ? user.prefix : [];
    await $`${prefix} redis-server ${live.configFile} --daemonize yes ${args}`;
    const up = await waitFor(async () => {
      try {
        (await connectRedis(opts.redisUrl)).disconnect();
        return true;
      } catch {
        return false;
      }
    }, 60_000, 200);
    if (!up) throw new Error('Redis did not come back after the restore');
    if (live.aof) {
      // Rebuild the AOF from the restored dataset, then persist the setting.
      const redis = await connectRedis(opts.redisUrl);
      await redis.config('SET', 'appendonly', 'yes');
      await redis.call('CONFIG', 'REWRITE');
      redis.disconnect();
    }
  });

  const verified = await run.step('verify DBSIZE and key-sample fingerprint', () => verifyRestored(opts.redisUrl, manifest));
  return { targetUrl: opts.redisUrl, dbsize: verified.dbsize, fingerprintCompared: verified.compared, previousRdb };
}
