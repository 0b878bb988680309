import fs from 'node:fs';
import pg from 'pg';
import { $ } from '../../engine/shell';
import { waitFor } from '../../local/process';
import { withClient } from '../../stores/postgres/connect';
import { databaseFingerprint, fingerprintTable, type TableFingerprint } from '../../stores/postgres/fingerprint';
import { pgBin } from '../../stores/postgres/binaries';
import { connectRedis } from '../../stores/redis/connect';
import { fingerprintRedis } from '../../stores/redis/fingerprint';
import { invokeRunbook } from './invoke';
import { inventoryOf, timescaleCheck } from './timescale';
import type { ScenarioResult } from './types';

export interface DrillEnv {
  /** Environment for child runbooks (TICKVAULT_HOME, TICKVAULT_ENV). */
  env: Record<string, string>;
  databaseUrl: string;
  redisUrl: string;
  dataDir: string;
  serviceUserPrefix: string[];
  /** The TimescaleDB version drilled (tick_data a compressed hypertable with aggregates), or null without it. */
  timescale: string | null;
}

const timescaleBefore = (d: DrillEnv) => (d.timescale ? inventoryOf(d.databaseUrl) : Promise.resolve(null));
const withTimescaleCheck = async (checks: ScenarioResult['checks'], url: string, expected: Awaited<ReturnType<typeof inventoryOf>>) => {
  const check = await timescaleCheck(url, expected);
  if (check) checks.push(check);
};

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

const fingerprintsOf = async (url: string): Promise<TableFingerprint[]> => (await withClient(url, databaseFingerprint)).tables;

/** Make sure the WAL up to now is in the archive (what archive_timeout does on its own). */
async function shipWal(url: string): Promise<void> {
  const [{ wal }] = (await sql<{ wal: string }>(url, 'SELECT pg_walfile_name(pg_switch_wal()) AS wal')) as [{ wal: string }];
  const shipped = await waitFor(async () => {
    const [row] = await sql<{ last: string | null }>(url, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    return Boolean(row?.last && row.last >= wal);
  }, 60_000, 200);
  if (!shipped) throw new Error(`WAL ${wal} was not archived within 60 s`);
}

/** Restore summaries mask the password; the drill knows it and puts it back. */
function unmasked(maskedUrl: string | undefined, sourceUrl: string): string | undefined {
  if (!maskedUrl) return undefined;
  const url = new URL(maskedUrl);
  url.password = new URL(sourceUrl).password;
  return url.toString();
}

function outcome(base: Omit<ScenarioResult, 'passed' | 'rtoMs' | 'rpoMs'>): ScenarioResult {
  const objectives = base.restore?.summary.objectives as { rtoMs: number; rpoMs: number | null; rtoTargetMs: number; rpoTargetMs: number } | undefined;
  const passed = base.restore?.exitCode === 0 && base.checks.every((c) => c.ok) && !base.error;
  return { ...base, passed, rtoMs: objectives?.rtoMs ?? null, rpoMs: objectives?.rpoMs ?? null, rtoTargetMs: objectives?.rtoTargetMs, rpoTargetMs: objectives?.rpoTargetMs };
}

const restoreChecks = (restore: { exitCode: number; summary: Record<string, any> }): ScenarioResult['checks'] => [
  { check: 'the restore runbook succeeded: its own verification and RTO/RPO passed', ok: restore.exitCode === 0, detail: restore.exitCode === 0 ? 'exit 0' : `exit ${restore.exitCode}: ${restore.summary.error?.message ?? 'see its audit log'}` },
];

/** A table is dropped by mistake; the logical backup is restored in place. */
export async function droppedTable(d: DrillEnv): Promise<ScenarioResult> {
  const before = await sql<{ n: string }>(d.databaseUrl, 'SELECT count(*) AS n FROM trades');
  const client = new pg.Client({ connectionString: d.databaseUrl });
  await client.connect();
  const expected = await fingerprintTable(client, { schema: 'public', name: 'trades' });
  await client.end();
  const tsExpected = await timescaleBefore(d);
  const incident = new Date();
  await sql(d.databaseUrl, 'DROP TABLE public.trades CASCADE');
  const restore = await invokeRunbook('restore', ['postgres', '--latest', '--in-place', '--yes', '--scenario', 'deletion', '--incident-time', incident.toISOString()], d.env);
  const after = new pg.Client({ connectionString: d.databaseUrl });
  await after.connect();
  const got = await fingerprintTable(after, { schema: 'public', name: 'trades' }).catch(() => undefined);
  await after.end();
  const checks = [...restoreChecks(restore), { check: 'trades is back with identical content', ok: got?.hash === expected.hash && got?.rows === expected.rows, detail: `${got?.rows ?? 0} rows` }];
  await withTimescaleCheck(checks, d.databaseUrl, tsExpected);
  return outcome({
    name: 'Dropped table',
    scenario: 'deletion',
    disaster: `DROP TABLE trades (${before[0]?.n} rows)`,
    recovery: 'logical restore --latest --in-place (restored aside, verified, swapped in)',
    restore,
    checks,
  });
}

/** Rows are deleted at a known time; point-in-time recovery to just before. */
export async function deletedRows(d: DrillEnv): Promise<ScenarioResult> {
  await sql(d.databaseUrl, `INSERT INTO tick_data (id, symbol, ts, price, volume, side, exchange)
    SELECT 1000000000 + g, 'BTC-USD', now() - (1000 - g) * interval '1 ms', 95000 + g, 0.01, 'buy', 'drill' FROM generate_series(1, 1000) g`);
  const client = new pg.Client({ connectionString: d.databaseUrl });
  await client.connect();
  const expected = await fingerprintTable(client, { schema: 'public', name: 'tick_data' });
  await client.end();
  const tsExpected = await timescaleBefore(d);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const [{ at: targetTime }] = (await sql<{ at: Date }>(d.databaseUrl, 'SELECT now() AS at')) as [{ at: Date }];
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const [{ at: incident }] = (await sql<{ at: Date }>(d.databaseUrl, 'SELECT now() AS at')) as [{ at: Date }];
  const deleted = await sql(d.databaseUrl, 'DELETE FROM tick_data WHERE id % 7 = 0 RETURNING id');
  await sql(d.databaseUrl, `INSERT INTO tick_data VALUES (2000000001, 'BTC-USD', now(), 1, 1, 'buy', 'after-target')`);
  await shipWal(d.databaseUrl);
  const restore = await invokeRunbook('restore', ['postgres', '--to-time', targetTime.toISOString(), '--scenario', 'corruption', '--incident-time', incident.toISOString()], d.env);
  const checks = restoreChecks(restore);
  const url = unmasked(restore.summary.targetUrl as string | undefined, d.databaseUrl);
  if (url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const got = await fingerprintTable(c, { schema: 'public', name: 'tick_data' });
    const late = await c.query("SELECT 1 FROM tick_data WHERE exchange = 'after-target'");
    await c.end();
    checks.push({ check: `the ${deleted.length} deleted rows are back: tick_data equals its state before the delete`, ok: got.hash === expected.hash && got.rows === expected.rows, detail: `${got.rows} rows` });
    checks.push({ check: 'a row committed after the target time is absent', ok: late.rowCount === 0, detail: undefined });
    await withTimescaleCheck(checks, url, tsExpected);
  }
  return outcome({
    name: 'Rows deleted, point-in-time recovery',
    scenario: 'corruption',
    disaster: `DELETE of ${deleted.length} ticks at ${incident.toISOString()}`,
    recovery: `pgBackRest restore --to-time ${targetTime.toISOString()} into a new cluster`,
    restore,
    checks,
  });
}

/** Redis is wiped; the RDB backup is restored in place. */
export async function wipedRedis(d: DrillEnv): Promise<ScenarioResult> {
  const redis = await connectRedis(d.redisUrl);
  const expected = await fingerprintRedis(redis);
  const incident = new Date();
  await redis.flushall();
  redis.disconnect();
  const restore = await invokeRunbook('restore', ['redis', '--latest', '--in-place', '--yes', '--scenario', 'deletion', '--incident-time', incident.toISOString()], d.env);
  const again = await connectRedis(d.redisUrl);
  const got = await fingerprintRedis(again);
  again.disconnect();
  return outcome({
    name: 'Redis wiped',
    scenario: 'deletion',
    disaster: `FLUSHALL (${expected.dbsize} keys)`,
    recovery: 'RDB restore --latest --in-place (SHUTDOWN NOSAVE, replace, start)',
    restore,
    checks: [...restoreChecks(restore), { check: 'key count and key-sample fingerprint equal the pre-wipe state', ok: got.dbsize === expected.dbsize && got.hash === expected.hash, detail: `${got.dbsize} keys` }],
  });
}

/** The PostgreSQL data directory is lost; physical restore of the latest backup plus all archived WAL. */
export async function lostDataDirectory(d: DrillEnv): Promise<ScenarioResult> {
  await shipWal(d.databaseUrl);
  const expected = await fingerprintsOf(d.databaseUrl);
  const tsExpected = await timescaleBefore(d);
  const incident = new Date();
  await $`${d.serviceUserPrefix} ${pgBin('pg_ctl')} -D ${d.dataDir} -m immediate stop`.nothrow();
  fs.rmSync(d.dataDir, { recursive: true, force: true });
  const restore = await invokeRunbook('restore', ['postgres', '--latest', '--kind', 'physical', '--scenario', 'full-failure', '--incident-time', incident.toISOString()], d.env);
  const checks = restoreChecks(restore);
  const url = unmasked(restore.summary.targetUrl as string | undefined, d.databaseUrl);
  if (url) {
    const got = await fingerprintsOf(url);
    const same = got.length === expected.length && got.every((g, i) => g.hash === expected[i]!.hash && g.rows === expected[i]!.rows);
    checks.push({ check: `all ${expected.length} tables equal their state before the loss`, ok: same, detail: `${got.reduce((s, g) => s + g.rows, 0)} rows` });
    await withTimescaleCheck(checks, url, tsExpected);
  }
  return outcome({
    name: 'Data directory lost',
    scenario: 'full-failure',
    disaster: 'postgres killed (immediate) and its data directory deleted',
    recovery: 'pgBackRest restore --latest (all archived WAL) into a new cluster',
    restore,
    checks,
  });
}
