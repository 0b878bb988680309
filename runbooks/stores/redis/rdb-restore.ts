import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { $ } from '../../engine/shell';
import { ConfigError, VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import type { Run } from '../../engine/run';
import { pidAlive, waitFor } from '../../engine/wait';
import type { Manifest } from '../../repository/manifest';
import type { Repository } from '../../repository/repository';
import { downloadVerified, removeStaging, stagingDir } from '../../repository/transfer';
import { killPoint } from '../../engine/kill-point';
import { connectRedis, infoField } from './connect';
import { fingerprintRedis, type RedisFingerprint } from './fingerprint';
import { bgsave, checkRdb } from './rdb-backup';

export interface RdbRestoreOptions {
  repo: Repository;
  manifest: Manifest;
  /** The live server (in-place) or the source whose password a new server reuses. */
  redisUrl: string;
  inPlace: boolean;
  /** Where a new server comes from and how to run redis-server as a data folder's owner (injected by recovery/). */
  servers: RedisProvisioner;
}

/** Redis servers on this machine, provided by whoever owns them (the local stack): stores/ never starts processes itself. */
export interface RedisProvisioner {
  /** Start a new server that loads this RDB; returns where it listens. */
  startFromRdb(rdb: string, password: string): Promise<{ port: number; url: string }>;
  /** argv prefix that runs a command as the owner of dir (the service user when we are root). */
  asOwnerOf(dir: string): Promise<string[]>;
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

interface LiveServer {
  dir: string;
  rdb: string;
  configFile: string;
  pid: number;
  aof: boolean;
  appendDir: string;
}

/**
 * An in-place restore's progress, kept beside the local state so a run
 * killed after SHUTDOWN is finished by re-running it (Redis is down then,
 * so nothing can be asked of it).
 */
interface InPlaceJournal {
  backupId: string;
  live: LiveServer;
  /** The live data as saved just before SHUTDOWN, kept beside the restored RDB. */
  previousRdb: string;
  previousAof?: string;
  stage: 'saved' | 'stopped' | 'replaced' | 'started';
}

const journalFile = (redisUrl: string): string => {
  const u = new URL(redisUrl);
  const host = ['localhost', '127.0.0.1', '::1', '[::1]'].includes(u.hostname) ? 'loopback' : u.hostname.toLowerCase();
  return path.join(stateRoot(), 'redis-restores', `${crypto.createHash('sha256').update(`${host}:${u.port || 6379}`).digest('hex').slice(0, 16)}.json`);
};

function readJournal(file: string): InPlaceJournal | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as InPlaceJournal;
  } catch {
    return undefined;
  }
}

function writeJournal(file: string, journal: InPlaceJournal): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(journal), { mode: 0o600 });
  const fd = fs.openSync(tmp, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/** Copy a file and fsync it, so a saved copy survives a crash right after. */
function copyDurably(from: string, to: string): void {
  fs.copyFileSync(from, to);
  const fd = fs.openSync(to, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/** What an in-place restore needs to know about the live server, checked before anything stops. */
async function inspectLiveServer(url: string): Promise<LiveServer> {
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
  run.onCleanup(() => removeStaging(staging));
  const rdb = path.join(staging, 'dump.rdb');
  const journalPath = journalFile(opts.redisUrl);
  const pending = opts.inPlace ? readJournal(journalPath) : undefined;
  if (pending && pending.backupId !== manifest.id) {
    throw new ConfigError(`an interrupted in-place restore of ${pending.backupId} into this Redis is pending (${pending.stage})`, { hint: `finish it first: restore redis --backup ${pending.backupId} --in-place` });
  }
  // Killed before SHUTDOWN: Redis still runs, so start over; after it, resume from the journal.
  const resuming = pending && pending.stage !== 'saved' ? pending : undefined;
  if (resuming) run.warn(`resuming the in-place restore of ${manifest.id} interrupted after "${resuming.stage}"; the live data saved before it is ${resuming.previousRdb}`);
  const live = opts.inPlace ? (resuming?.live ?? (await run.step('inspect live server', () => inspectLiveServer(opts.redisUrl), { readOnly: true }))) : undefined;

  await run.step('download, check sha256 and redis-check-rdb', async () => {
    await downloadVerified(opts.repo, manifest, staging);
    await checkRdb(rdb);
  }, { readOnly: true });

  if (!live) {
    const password = decodeURIComponent(new URL(opts.redisUrl).password) || process.env.REDISCLI_AUTH || crypto.randomBytes(12).toString('base64url');
    const started = await run.step('start a new Redis from the RDB', async (step) => {
      const server = await opts.servers.startFromRdb(rdb, password);
      step.note(`port ${server.port}`);
      return server;
    }, { dryRunResult: { port: 0, url: '' } });
    const targetUrl = started.url;
    if (run.dryRun) return { targetUrl, dbsize: 0, fingerprintCompared: false };
    const verified = await run.step('verify DBSIZE and key-sample fingerprint', () => verifyRestored(targetUrl, manifest));
    return { targetUrl, dbsize: verified.dbsize, fingerprintCompared: verified.compared };
  }

  const target = new URL(opts.redisUrl).port ? `redis:${new URL(opts.redisUrl).port}` : 'redis';
  let journal: InPlaceJournal;
  if (resuming) journal = resuming;
  else {
    const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15);
    journal = { backupId: manifest.id, live, previousRdb: `${live.rdb}.tv-pre-restore-${stamp}`, stage: 'saved' };
    await run.step('save the live data (BGSAVE) and keep a copy beside it', async (step) => {
      const redis = await connectRedis(opts.redisUrl);
      try {
        await bgsave(redis);
      } finally {
        redis.disconnect();
      }
      copyDurably(live.rdb, journal.previousRdb);
      writeJournal(journalPath, journal);
      step.note(journal.previousRdb);
    }, { confirm: { action: 'replace the whole Redis dataset (the live data is saved first)', target } });
    if (run.dryRun) return { targetUrl: opts.redisUrl, dbsize: 0, fingerprintCompared: false, previousRdb: journal.previousRdb };
    killPoint('redis-after-save');

    await run.step('stop Redis without saving (SHUTDOWN NOSAVE)', async () => {
      const redis = await connectRedis(opts.redisUrl);
      await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined); // the connection drops as it exits
      redis.disconnect();
      if (!(await waitFor(() => !pidAlive(live.pid), 30_000))) throw new Error(`Redis pid ${live.pid} did not exit`);
      writeJournal(journalPath, { ...journal, stage: 'stopped' });
      journal.stage = 'stopped';
    });
    killPoint('redis-after-shutdown');
  }

  const startRedisAgain = async () => {
    const args = live.aof ? ['--appendonly', 'no'] : [];
    const prefix = await opts.servers.asOwnerOf(live.dir);
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
  };

  try {
    if (journal.stage === 'stopped') {
      await run.step('replace the RDB (AOF set aside)', async () => {
        // The incoming file is renamed over the live one: at every instant the RDB is whole, old or new.
        const incoming = `${live.rdb}.tv-incoming`;
        fs.copyFileSync(rdb, incoming);
        const owner = fs.statSync(live.dir);
        fs.chownSync(incoming, owner.uid, owner.gid);
        fs.chmodSync(incoming, 0o600);
        fs.renameSync(incoming, live.rdb);
        // With AOF on, Redis would load the AOF and ignore the RDB.
        const appendDir = path.join(live.dir, live.appendDir);
        if (live.aof && fs.existsSync(appendDir)) fs.renameSync(appendDir, `${appendDir}.tv-pre-restore-${journal.previousRdb.split('.tv-pre-restore-')[1]}`);
        journal.stage = 'replaced';
        writeJournal(journalPath, journal);
      });
      killPoint('redis-after-replace');
    }
    if (journal.stage === 'replaced') {
      await run.step('start Redis', async () => {
        await startRedisAgain();
        if (live.aof) {
          // Rebuild the AOF from the restored dataset, then persist the setting.
          const redis = await connectRedis(opts.redisUrl);
          await redis.config('SET', 'appendonly', 'yes');
          await redis.call('CONFIG', 'REWRITE');
          redis.disconnect();
        }
        journal.stage = 'started';
        writeJournal(journalPath, journal);
      });
    }
  } catch (error) {
    // Never leave Redis down: start it on whatever RDB is in place (the old one if the swap did not happen).
    if (!pidAlive(live.pid) && !(await connectRedis(opts.redisUrl).then((r) => (r.disconnect(), true)).catch(() => false))) {
      await startRedisAgain().catch((startError) => run.warn(`could not restart Redis: ${(startError as Error).message}`));
    }
    throw error;
  }

  const verified = await run.step('verify DBSIZE and key-sample fingerprint', () => verifyRestored(opts.redisUrl, manifest));
  fs.rmSync(journalPath, { force: true });
  return { targetUrl: opts.redisUrl, dbsize: verified.dbsize, fingerprintCompared: verified.compared, previousRdb: journal.previousRdb };
}
