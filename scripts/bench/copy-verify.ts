/**
 * Copy + verify of a 2-million-row bars table between two local clusters,
 * against the raw tools in the same run:
 *   raw pipe  = COPY … TO STDOUT (binary) | COPY … FROM STDIN into a table with its primary key
 *   pgcopydb  = pgcopydb clone --table-jobs 2 --index-jobs 2
 *   tickvault = migrate.ts copy-table (backfill + verify phases)
 * Goals: copy ≤ 1.0× the raw pipe, copy + verify ≤ 1.3×; finding one differing
 * row costs ≤ 2× a clean verify. Also peak RSS of the copy process.
 *   npx tsx scripts/bench/copy-verify.ts [--rows 2000000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { $ } from 'zx';
import { baseSettings, clusterUrl, initCluster, socketDirFor, startCluster, stopCluster, writeClusterConf } from '../../runbooks/local/postgres-cluster';
import { freePort } from '../../runbooks/local/process';
import { chownTree, serviceUser } from '../../runbooks/local/service-user';
import { libpqConnection, pgBin } from '../../runbooks/stores/postgres/binaries';
import { createBars, localStack, ratio, recreateDb, saveResult, sql, tickvault, timed, withDb } from './common';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' } } });
const rows = Number(values.rows);
const stack = await localStack();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-bench-copy-'));
fs.chmodSync(work, 0o755);

// A second cluster: the copy crosses a real server boundary.
const user = await serviceUser();
const port = await freePort();
const spec = { dataDir: path.join(work, 'pg', 'data'), port, socketDir: socketDirFor(path.join(work, 'run'), 'bench'), logFile: path.join(work, 'pg', 'log') };
fs.mkdirSync(path.dirname(spec.dataDir), { recursive: true });
chownTree(work, user);
const password = 'bench-pass';
await initCluster(spec, user, 'tickvault', password);
writeClusterConf(spec.dataDir, { ...baseSettings(spec), wal_level: 'minimal', max_wal_senders: 0 });
chownTree(work, user);
await startCluster(spec, user);
const target = clusterUrl(port, 'tickvault', password, 'postgres');

try {
  process.stderr.write(`building a ${rows.toLocaleString('en-US')}-row bars table…\n`);
  const source = await recreateDb(stack.DATABASE_URL!, 'bench_copy_src');
  await createBars(source, rows);
  const ddl = (await sql(source, "SELECT 'CREATE TABLE data_bars (' || string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) || ', PRIMARY KEY (canonical_symbol, timeframe, ts_utc))' AS ddl FROM pg_attribute WHERE attrelid = 'data_bars'::regclass AND attnum > 0 AND NOT attisdropped")).rows[0].ddl as string;

  const s = libpqConnection(source);
  const rawDb = await recreateDb(target, 'raw');
  await sql(rawDb, ddl);
  const t = libpqConnection(rawDb);
  const raw = await timed(() => $({ env: { ...process.env, PGPASSWORD: s.env.PGPASSWORD } })`${pgBin('psql')} ${s.conninfo} -qc ${'COPY data_bars TO STDOUT (FORMAT binary)'}`.pipe($({ env: { ...process.env, PGPASSWORD: t.env.PGPASSWORD } })`${pgBin('psql')} ${t.conninfo} -qc ${'COPY data_bars FROM STDIN (FORMAT binary)'}`));

  const pgcopyDb = await recreateDb(target, 'pgcopydb');
  const pgcopydb = await timed(() => $({ env: { ...process.env, PGCOPYDB_SOURCE_PGURI: source, PGCOPYDB_TARGET_PGURI: pgcopyDb } })`pgcopydb clone --table-jobs 2 --index-jobs 2 --no-owner --no-acl --dir ${path.join(work, 'pgcopydb')} --not-consistent`.nothrow());

  const oursDb = await recreateDb(target, 'tickvault');
  const cli = (args: string[]) => tickvault('migrate', args);
  const common = ['--plan', 'copy-table', '--table', 'public.data_bars', '--source-url', source, '--target-url', oursDb];
  await cli(['run', '--phase', 'preflight', ...common]);
  const copy = await timed(() => cli(['run', '--phase', 'backfill', ...common]));
  const copySummary = JSON.parse(copy.value.stdout.trim().split('\n').at(-1)!);
  const verify = await timed(() => cli(['run', '--phase', 'verify', ...common]));

  const verifyCli = (args: string[]) => tickvault('verify', args, { nothrow: true });
  const verifyArgs = ['--source-url', source, '--target-url', oursDb, '--table', 'public.data_bars'];
  const clean = await timed(() => verifyCli(verifyArgs));
  await sql(oursDb, "UPDATE data_bars SET close = close + 0.00000001 WHERE canonical_symbol = 'USDJPY' AND ts_utc = (SELECT min(ts_utc) + interval '1000 minutes' FROM data_bars)");
  const dirty = await timed(() => verifyCli(verifyArgs));
  const dirtySummary = JSON.parse(dirty.value.stdout.trim().split('\n').at(-1)!);

  const result = {
    rows,
    rawPipeMs: Math.round(raw.ms),
    pgcopydbMs: Math.round(pgcopydb.ms),
    pgcopydbExit: pgcopydb.value.exitCode,
    copyMs: Math.round(copy.ms),
    copyVerifyMs: Math.round(copy.ms + verify.ms),
    copyRatio: Number(ratio(copy.ms, raw.ms)),
    copyVerifyRatio: Number(ratio(copy.ms + verify.ms, raw.ms)),
    copyVsPgcopydb: Number(ratio(copy.ms, pgcopydb.ms)),
    verifyCleanMs: Math.round(clean.ms),
    verifyRowsPerSecond: Math.round((rows * 2) / (clean.ms / 1000)),
    verifyWithOneDifferenceMs: Math.round(dirty.ms),
    differenceCostRatio: Number(ratio(dirty.ms, clean.ms)),
    differenceFound: (dirtySummary.differences as { key: string }[] | undefined)?.map((d) => d.key) ?? [],
    copyPeakRssMb: copySummary.maxRssMb,
    note: 'tickvault and pgcopydb times are whole CLI runs; raw pipe is two psql processes; rows/s counts both sides',
  };
  console.log(`copy          ${(copy.ms / 1000).toFixed(1)} s vs raw pipe ${(raw.ms / 1000).toFixed(1)} s → ${result.copyRatio} (goal ≤ 1.0); vs pgcopydb ${(pgcopydb.ms / 1000).toFixed(1)} s → ${result.copyVsPgcopydb}`);
  console.log(`copy + verify ${(result.copyVerifyMs / 1000).toFixed(1)} s → ${result.copyVerifyRatio} × raw pipe (goal ≤ 1.3)`);
  console.log(`verify        ${(clean.ms / 1000).toFixed(1)} s clean (${result.verifyRowsPerSecond.toLocaleString('en-US')} rows/s), ${(dirty.ms / 1000).toFixed(1)} s with one differing row → ${result.differenceCostRatio} (goal ≤ 2), found ${result.differenceFound.join(', ')}`);
  console.log(`peak RSS of the copy process: ${result.copyPeakRssMb} MiB`);
  console.log(`saved ${saveResult('copy-verify', result)}`);
  await sql(withDb(stack.DATABASE_URL!, 'postgres'), 'DROP DATABASE IF EXISTS bench_copy_src WITH (FORCE)');
} finally {
  await stopCluster(spec.dataDir, user, 'immediate');
  fs.rmSync(work, { recursive: true, force: true });
}
