import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { $ } from '../engine/shell';
import { ConfigError, UsageError, VerificationError } from '../engine/errors';
import { localDir, localEnvFile, stateRoot } from '../engine/paths';
import type { Run } from '../engine/run';
import { postgresHealth, redisHealth, s3Health, type Health } from './health';
import { archiveCommand, pgbackrestLayout, writePgBackRestConfig } from './pgbackrest-config';
import { baseSettings, clusterRunning, clusterUrl, initCluster, postmasterPid, socketDirFor, startCluster, stopCluster, writeClusterConf } from './postgres-cluster';
import { pgBinDir } from '../stores/postgres/binaries';
import { choosePort, isOurProcess, stopPid, waitFor } from './process';
import { redisPid, redisRunning, redisUrlFor, startRedis, writeRedisConf } from './redis-server';
import { s3Running, S3RVER_CREDENTIALS, startS3 } from './s3-endpoint';
import { assertReachable, chownTree, serviceUser } from './service-user';
import { newSecret, readState, saveStack, updateState, type StackState } from './state';

export const BACKUP_BUCKET = 'tickvault-backups';

export interface StackEndpoints {
  postgres: { url: string; port: number; dataDir: string };
  redis: { url: string; port: number };
  s3: { endpoint: string; bucket: string; port: number };
  env: Record<string, string>;
}

export function endpointsOf(state: StackState): StackEndpoints {
  const pgUrl = clusterUrl(state.postgres.port, state.postgres.superuser, state.postgres.password, state.postgres.database);
  const redisUrl = redisUrlFor(state.redis.port, state.redis.password);
  const s3Endpoint = `http://127.0.0.1:${state.s3.port}`;
  return {
    postgres: { url: pgUrl, port: state.postgres.port, dataDir: state.postgres.dataDir },
    redis: { url: redisUrl, port: state.redis.port },
    s3: { endpoint: s3Endpoint, bucket: state.s3.bucket, port: state.s3.port },
    env: {
      TICKVAULT_ENV: 'local',
      DATABASE_URL: pgUrl,
      REDIS_URL: redisUrl,
      S3_ENDPOINT: s3Endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      BACKUP_REPO: `s3://${state.s3.bucket}/local`,
      PGBACKREST_CONFIG: state.pgbackrest.configFile,
      PGBACKREST_STANZA: state.pgbackrest.stanza,
      REDIS_DATA_DIR: state.redis.dir,
    },
  };
}

function writeEnvFile(env: Record<string, string>): void {
  const lines = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  fs.writeFileSync(localEnvFile(), `# written by "npx tsx runbooks/local.ts up"; read by every runbook\n${lines.join('\n')}\n`, { mode: 0o600 });
}

function freshState(root: string, user: string): StackState {
  const key = crypto.createHash('sha256').update(root).digest('hex').slice(0, 8);
  const pgDir = path.join(root, 'postgres');
  const pgbr = pgbackrestLayout(path.join(root, 'pgbackrest'));
  return {
    version: 1,
    serviceUser: user,
    postgres: {
      name: 'main',
      dataDir: path.join(pgDir, 'data'),
      port: 0,
      socketDir: socketDirFor(path.join(root, 'run'), key),
      logFile: path.join(pgDir, 'postgres.log'),
      superuser: 'tickvault',
      password: newSecret(),
      database: 'tickvault',
    },
    redis: { dir: path.join(root, 'redis'), port: 0, password: newSecret() },
    s3: { dir: path.join(root, 's3'), port: 0, bucket: BACKUP_BUCKET },
    pgbackrest: pgbr,
    extraClusters: [],
    extraRedis: [],
  };
}

function requireTools(): void {
  pgBinDir();
  for (const tool of ['redis-server', 'pgbackrest']) {
    const found = (process.env.PATH ?? '').split(':').some((dir) => fs.existsSync(path.join(dir, tool)));
    if (!found) throw new ConfigError(`${tool} is not installed`, { hint: 'run scripts/bootstrap (as root it installs missing packages with apt)' });
  }
}

export interface UpResult extends StackEndpoints {
  reused: { postgres: boolean; redis: boolean; s3: boolean };
  envFile: string;
}

/** Start (or reuse) PostgreSQL, Redis and s3rver under .tickvault/local/. */
export async function up(run: Run): Promise<UpResult> {
  requireTools();
  const root = localDir();
  const user = await serviceUser();
  const state = readState() ?? freshState(root, user.name);
  const reused = { postgres: false, redis: false, s3: false };

  await run.step('prepare state directory', async () => {
    for (const dir of [root, path.dirname(state.postgres.dataDir), state.redis.dir, state.s3.dir, path.dirname(state.pgbackrest.configFile)]) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
    }
    for (const dir of [stateRoot(), root]) fs.chmodSync(dir, 0o755);
    for (const dir of [path.dirname(state.postgres.dataDir), state.redis.dir, path.dirname(state.pgbackrest.configFile)]) chownTree(dir, user);
    await assertReachable(path.dirname(state.postgres.dataDir), user);
  }, { detail: root });

  await run.step('postgres', async (ctx) => {
    const pgState = state.postgres;
    if (clusterRunning(pgState.dataDir)) {
      reused.postgres = true;
      ctx.note(`reusing running cluster on port ${pgState.port}`);
      return;
    }
    pgState.port = await choosePort(pgState.port || undefined);
    const layout = state.pgbackrest;
    const firstInit = !fs.existsSync(path.join(pgState.dataDir, 'PG_VERSION'));
    if (firstInit) await initCluster(pgState, user, pgState.superuser, pgState.password);
    writePgBackRestConfig(layout, pgState);
    chownTree(path.dirname(layout.configFile), user);
    writeClusterConf(pgState.dataDir, {
      ...baseSettings(pgState),
      archive_mode: 'on',
      archive_command: archiveCommand(layout),
      archive_timeout: 30,
    });
    if (user.prefix.length) fs.chownSync(path.join(pgState.dataDir, 'tickvault.conf'), user.uid, user.gid);
    await startCluster(pgState, user);
    const url = clusterUrl(pgState.port, pgState.superuser, pgState.password, 'postgres');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [pgState.database]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${pgState.database}`);
    } finally {
      await client.end();
    }
    // The stanza makes WAL archiving work from the first segment (PITR-ready).
    const stanza = await $`${user.prefix} pgbackrest --config=${layout.configFile} --stanza=${layout.stanza} stanza-create`.nothrow();
    if (stanza.exitCode !== 0) throw new Error(`pgbackrest stanza-create failed: ${stanza.stderr.trim() || stanza.stdout.trim()}`);
    ctx.note(`${firstInit ? 'initialised and started' : 'started'} on port ${pgState.port}`);
  });

  await run.step('redis', async (ctx) => {
    if (redisRunning(state.redis.dir)) {
      reused.redis = true;
      ctx.note(`reusing running server on port ${state.redis.port}`);
      return;
    }
    state.redis.port = await choosePort(state.redis.port || undefined);
    writeRedisConf(state.redis);
    await startRedis(state.redis, user);
    ctx.note(`started on port ${state.redis.port}`);
  });

  await run.step('s3', async (ctx) => {
    if (s3Running(state.s3.pid)) {
      reused.s3 = true;
      ctx.note(`reusing running s3rver on port ${state.s3.port}`);
      return;
    }
    state.s3.port = await choosePort(state.s3.port || undefined);
    state.s3.pid = await startS3(state.s3.dir, state.s3.port, state.s3.bucket, user);
    ctx.note(`s3rver on port ${state.s3.port}, bucket ${state.s3.bucket}`);
  });

  await saveStack(state);
  const endpoints = endpointsOf(state);
  writeEnvFile(endpoints.env);
  await run.step('health', async () => {
    const health = await checkHealth(state);
    const failed = Object.entries(health).filter(([, h]) => !h.healthy);
    if (failed.length) throw new VerificationError(`unhealthy after start: ${failed.map(([n, h]) => `${n} (${h.detail})`).join(', ')}`);
  }, { readOnly: true });
  return { ...endpoints, reused, envFile: localEnvFile() };
}

async function checkHealth(state: StackState): Promise<Record<'postgres' | 'redis' | 's3', Health>> {
  const e = endpointsOf(state);
  const [postgres, redis, s3] = await Promise.all([postgresHealth(e.postgres.url), redisHealth(e.redis.url), s3Health(e.s3.endpoint, e.s3.bucket)]);
  return { postgres, redis, s3 };
}

export interface ServiceStatus extends Health {
  running: boolean;
  pid?: number;
  port: number;
}

export async function status(): Promise<{ started: boolean; services: Record<string, ServiceStatus> }> {
  const state = readState();
  if (!state) return { started: false, services: {} };
  const health = await checkHealth(state);
  const services: Record<string, ServiceStatus> = {
    postgres: { running: clusterRunning(state.postgres.dataDir), pid: postmasterPid(state.postgres.dataDir), port: state.postgres.port, ...health.postgres },
    redis: { running: redisRunning(state.redis.dir), pid: redisPid(state.redis.dir), port: state.redis.port, ...health.redis },
    s3: { running: s3Running(state.s3.pid), pid: state.s3.pid, port: state.s3.port, ...health.s3 },
  };
  for (const extra of state.extraRedis) {
    const running = redisRunning(extra.dir);
    services[`redis:${extra.name}`] = { running, pid: redisPid(extra.dir), port: extra.port, healthy: running, detail: extra.dir };
  }
  for (const cluster of state.extraClusters) {
    const running = clusterRunning(cluster.dataDir);
    services[`postgres:${cluster.name}`] = { running, pid: postmasterPid(cluster.dataDir), port: cluster.port, healthy: running, detail: cluster.dataDir };
  }
  return { started: true, services };
}

/** One step that stops a PostgreSQL cluster; the pid it stopped, if it was running. */
async function stopPostgresStep(run: Run, cluster: { name: string; dataDir: string }, user: Awaited<ReturnType<typeof serviceUser>>): Promise<number | undefined> {
  return run.step(`stop postgres ${cluster.name}`, async (ctx) => {
    const pid = postmasterPid(cluster.dataDir);
    if (!(await stopCluster(cluster.dataDir, user))) {
      ctx.note('was not running');
      return undefined;
    }
    ctx.note(`stopped pid ${pid}`);
    return pid ?? undefined;
  });
}

/** One step that stops a Redis server by the pid in its folder; the pid it stopped, if it was running. */
async function stopRedisStep(run: Run, label: string, dir: string): Promise<number | undefined> {
  return run.step(`stop ${label}`, async (ctx) => {
    const pid = redisPid(dir);
    if (!pid || !redisRunning(dir)) {
      ctx.note('was not running');
      return undefined;
    }
    await stopPid(pid);
    ctx.note(`stopped pid ${pid}`);
    return pid;
  });
}

/**
 * Stop one server a restore started (a restored cluster or Redis), leaving
 * the rest of the stack running; --purge also deletes its data.
 */
export async function stopOne(run: Run, name: string, opts: { purge: boolean }): Promise<{ stopped: string | null; purged: boolean }> {
  const state = readState();
  if (!state) throw new UsageError('the local stack was never started here; nothing to stop');
  const bare = name.replace(/^(postgres|redis):/, '');
  const cluster = state.extraClusters.find((c) => c.name === bare);
  const redis = state.extraRedis.find((r) => r.name === bare);
  if (!cluster && !redis) {
    const known = [...state.extraClusters.map((c) => `postgres:${c.name}`), ...state.extraRedis.map((r) => `redis:${r.name}`)];
    throw new UsageError(`no restored server named "${name.slice(0, 80)}" (${known.length ? `known: ${known.join(', ')}` : 'no restored servers are registered'}); the stack's own services stop with "local down"`);
  }
  const label = cluster ? `postgres:${cluster.name}` : `redis:${redis!.name}`;
  const pid = cluster ? await stopPostgresStep(run, cluster, await serviceUser()) : await stopRedisStep(run, label, redis!.dir);
  if (pid && redis && !(await waitFor(() => !redisRunning(redis.dir), 10_000))) throw new VerificationError(`${label} (pid ${pid}) is still running`);
  const stopped = pid ? label : null;
  if (!run.dryRun) {
    await updateState((fresh) => {
      fresh.extraClusters = fresh.extraClusters.filter((c) => c.name !== cluster?.name);
      fresh.extraRedis = fresh.extraRedis.filter((r) => r.name !== redis?.name);
    });
  }
  if (opts.purge) {
    const dir = cluster ? path.dirname(cluster.dataDir) : redis!.dir;
    await run.step(`delete ${label}'s data`, async () => fs.rmSync(dir, { recursive: true, force: true }), { confirm: { action: `delete ${dir}`, target: label } });
  }
  return { stopped, purged: opts.purge && !run.dryRun };
}

/** Stop exactly what `up` (and restores) started, by pid; verify none is left. */
export async function down(run: Run, opts: { purge: boolean }): Promise<{ stopped: string[]; purged: boolean }> {
  const state = readState();
  const stopped: string[] = [];
  if (!state) {
    run.info('the local stack was never started here; nothing to stop');
    return { stopped, purged: false };
  }
  const user = await serviceUser();
  const pids: number[] = [];
  for (const cluster of [...state.extraClusters, state.postgres]) {
    const pid = await stopPostgresStep(run, cluster, user);
    if (pid) {
      pids.push(pid);
      stopped.push(`postgres:${cluster.name}`);
    }
  }
  for (const [label, dir] of [...state.extraRedis.map((r) => [`redis:${r.name}`, r.dir] as const), ['redis', state.redis.dir] as const]) {
    const pid = await stopRedisStep(run, label, dir);
    if (pid) {
      pids.push(pid);
      stopped.push(label);
    }
  }
  await run.step('stop s3', async (ctx) => {
    const pid = state.s3.pid;
    if (pid && s3Running(pid)) {
      await stopPid(pid);
      pids.push(pid);
      stopped.push('s3');
      ctx.note(`stopped pid ${pid}`);
    } else ctx.note('was not running');
  });
  await run.step('verify nothing left running', async () => {
    const gone = await waitFor(() => pids.every((pid) => !isOurProcess(pid, '')), 10_000);
    if (!gone) throw new VerificationError(`processes still running: ${pids.filter((p) => isOurProcess(p, '')).join(', ')}`);
  }, { readOnly: true });
  await updateState((fresh) => {
    fresh.extraClusters = fresh.extraClusters.filter((c) => clusterRunning(c.dataDir));
    fresh.extraRedis = fresh.extraRedis.filter((r) => redisRunning(r.dir));
  });
  if (opts.purge) {
    await run.step('purge local data', async () => {
      fs.rmSync(localDir(), { recursive: true, force: true });
      if (state.postgres.socketDir.startsWith('/tmp/')) fs.rmSync(state.postgres.socketDir, { recursive: true, force: true });
    }, { confirm: { action: 'delete every local database, Redis dump and backup object', target: 'local' } });
  }
  return { stopped, purged: opts.purge && !run.dryRun };
}
