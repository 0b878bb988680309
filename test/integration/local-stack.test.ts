import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { $ } from 'zx';
import { afterAll, describe, expect, it } from 'vitest';
import { runRunbook } from '../helpers/runbook';

// Its own TICKVAULT_HOME: this test starts and stops a whole stack.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-stack-'));
fs.chmodSync(home, 0o755);
const env = { TICKVAULT_HOME: home };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(async () => {
  await runRunbook('local', ['down', '--purge', '--yes'], { env });
  fs.rmSync(home, { recursive: true, force: true });
});

describe('embedded local stack', () => {
  let summary: any;

  it('up --json prints endpoints that accept real connections', async () => {
    const up = await runRunbook('local', ['up', '--json'], { env });
    expect(up.code, up.stderr).toBe(0);
    summary = up.summary;
    expect(summary).toMatchObject({ ok: true, postgres: { url: expect.stringMatching(/^postgres:\/\//) }, redis: { url: expect.stringMatching(/^redis:\/\//) }, s3: { bucket: 'tickvault-backups' } });

    const client = new pg.Client({ connectionString: summary.postgres.url });
    await client.connect();
    const { rows } = await client.query("SELECT current_setting('wal_level') AS wal, current_setting('archive_mode') AS archive");
    await client.end();
    expect(rows[0]).toEqual({ wal: 'logical', archive: 'on' }); // logical: change capture (README "Online migrations")
    const psql = await $`psql ${summary.postgres.url} -Atc ${'SELECT 40 + 2'}`;
    expect(psql.stdout.trim()).toBe('42');

    const redis = new Redis(summary.redis.url);
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.config('GET', 'save')).toEqual(['save', expect.stringMatching(/\d/)]);
    redis.disconnect();
    const cli = await $`redis-cli -u ${summary.redis.url} --no-auth-warning PING`;
    expect(cli.stdout.trim()).toBe('PONG');

    const s3 = new S3Client({ endpoint: summary.s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const buckets = await s3.send(new ListBucketsCommand({}));
    s3.destroy();
    expect(buckets.Buckets?.map((b) => b.Name)).toContain('tickvault-backups');

    const envFile = fs.readFileSync(path.join(home, 'local', 'env'), 'utf8');
    expect(envFile).toContain(`DATABASE_URL=${summary.postgres.url}`);
    expect(envFile).toContain('BACKUP_REPO=s3://tickvault-backups/local');
  });

  it('human output and the audit log mask the generated passwords', async () => {
    const password = decodeURIComponent(new URL(summary.postgres.url).password);
    const human = await runRunbook('local', ['up'], { env });
    expect(human.code).toBe(0);
    expect(human.stderr).not.toContain(password);
    const auditDir = path.join(home, 'audit', 'local');
    for (const file of fs.readdirSync(auditDir)) expect(fs.readFileSync(path.join(auditDir, file), 'utf8')).not.toContain(password);
  });

  it('a second up reuses the running stack and says so', async () => {
    const again = await runRunbook('local', ['up', '--json'], { env });
    expect(again.code).toBe(0);
    expect(again.summary).toMatchObject({ reused: { postgres: true, redis: true, s3: true }, postgres: { url: summary.postgres.url } });
  });

  it('status reports each service healthy', async () => {
    const status = await runRunbook('local', ['status', '--json'], { env });
    expect(status.code).toBe(0);
    const services = (status.summary as any).services;
    for (const name of ['postgres', 'redis', 's3']) expect(services[name]).toMatchObject({ healthy: true, running: true });
  });

  it('preloads TimescaleDB when it is installed: settings, CREATE EXTENSION, and status names the version', async () => {
    const installed = fs.existsSync('/usr/lib/postgresql/15/lib/timescaledb.so') || fs.readdirSync('/usr/lib/postgresql').some((v) => fs.existsSync(`/usr/lib/postgresql/${v}/lib/timescaledb.so`));
    if (!installed) {
      if (process.env.TICKVAULT_REQUIRE_TIMESCALEDB === '1') throw new Error('TimescaleDB is not installed (TICKVAULT_REQUIRE_TIMESCALEDB=1)');
      process.stderr.write('\n⚠ SKIPPING the TimescaleDB preload check: TimescaleDB is not installed\n');
      return;
    }
    const client = new pg.Client({ connectionString: summary.postgres.url });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT current_setting('shared_preload_libraries') AS preload, current_setting('max_worker_processes') AS workers, current_setting('timescaledb.telemetry_level') AS telemetry");
      expect(rows[0]).toEqual({ preload: 'timescaledb', workers: '32', telemetry: 'off' });
      await client.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
      const ext = await client.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
      const status = await runRunbook('local', ['status', '--json'], { env });
      expect((status.summary as any).services.postgres).toMatchObject({ timescaledb: ext.rows[0].extversion, detail: expect.stringContaining(`TimescaleDB ${ext.rows[0].extversion}`) });
    } finally {
      await client.query('DROP EXTENSION IF EXISTS timescaledb').catch(() => undefined);
      await client.end();
    }
  });

  it('down stops every process it started and leaves none behind', async () => {
    const status = await runRunbook('local', ['status', '--json'], { env });
    const pids = Object.values((status.summary as any).services).map((s: any) => s.pid as number);
    expect(pids.every(alive)).toBe(true);
    const down = await runRunbook('local', ['down', '--json'], { env });
    expect(down.code).toBe(0);
    expect(down.summary).toMatchObject({ stopped: expect.arrayContaining(['postgres:main', 'redis', 's3']) });
    expect(pids.some(alive)).toBe(false);
    const after = await runRunbook('local', ['status', '--json'], { env });
    expect(after.code).toBe(3);
  });
});
