/**
 * Copy + verify of one table between two local clusters, against the raw
 * tools in the same run, alternating raw and tickvault `--repeat` times
 * (min and median of the pairwise ratios: the machine is shared and noisy):
 *   raw pipe  = COPY … TO STDOUT (binary) | COPY … FROM STDIN into a table with its primary key,
 *               then its secondary indexes (timed with the pipe)
 *   pgcopydb  = pgcopydb clone --table-jobs 2 --index-jobs 2 (once)
 *   tickvault = migrate copy-table, backfill then verify phases (the built CLI)
 * Shapes: bars (the seeds' data_bars), mixed (uuid key, char, numeric,
 * jsonb, text: issue #16's "shaped unlike the benchmark's own"), ticks (a
 * TimescaleDB hypertable on both sides).
 * Goals: copy + verify ≤ 1.3× the raw pipe; finding one differing row costs
 * ≤ 2× a clean verify; peak RSS of the copy ≤ 200 MB.
 *   npx tsx scripts/bench/copy-verify.ts [--rows 2000000] [--shape bars|mixed|ticks] [--repeat 3]
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
import { createBars, createMixed, createTicks, HYPERTABLE_DDL, localStack, nodeStartMs, pairRatio, ratio, recreateDb, saveResult, spread, sql, tickvault, timed, withDb } from './common';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, shape: { type: 'string', default: 'bars' }, repeat: { type: 'string', default: '3' }, pgcopydb: { type: 'boolean', default: true } } });
const rows = Number(values.rows);
const repeat = Number(values.repeat);
const shape = values.shape as 'bars' | 'mixed' | 'ticks';
const shapes = {
  bars: { table: 'data_bars', create: createBars, dirty: "UPDATE data_bars SET close = close + 0.00000001 WHERE ctid = (SELECT ctid FROM data_bars WHERE canonical_symbol = 'USDJPY' ORDER BY ts_utc OFFSET 1000 LIMIT 1)" },
  mixed: { table: 'orders_mixed', create: createMixed, dirty: "UPDATE orders_mixed SET meta = meta || '{\"fee\": 0.011}' WHERE id = md5('1000')::uuid" },
  ticks: { table: 'tick_data', create: createTicks, dirty: "UPDATE tick_data SET price = price + 0.00000001 WHERE symbol = 'USDJPY' AND ts = timestamptz '2025-01-01' + interval '1000 seconds'" },
};
if (!(shape in shapes)) throw new Error(`--shape: bars, mixed or ticks, not ${shape}`);
const { table, create, dirty } = shapes[shape];
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
  process.stderr.write(`building a ${rows.toLocaleString('en-US')}-row ${table} table…\n`);
  const source = await recreateDb(stack.DATABASE_URL!, 'bench_copy_src');
  await create(source, rows);
  const ddl = (await sql(source, `SELECT 'CREATE TABLE ${table} (' || string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
      || ', ' || (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '${table}'::regclass AND contype = 'p') || ')' AS ddl
    FROM pg_attribute WHERE attrelid = '${table}'::regclass AND attnum > 0 AND NOT attisdropped`)).rows[0].ddl as string;
  // Secondary indexes (mixed has one) are built after the pipe, inside its time, as pg_restore would.
  // A hypertable's come with HYPERTABLE_DDL.
  const indexes: string[] = shape === 'ticks' ? [] : (await sql(source, `SELECT pg_get_indexdef(indexrelid) AS ddl FROM pg_index WHERE indrelid = '${table}'::regclass AND NOT indisprimary`)).rows.map((r) => r.ddl as string);
  const s = libpqConnection(source);
  const rawPipe = async () => {
    const rawDb = await recreateDb(target, 'raw');
    if (shape === 'ticks') for (const statement of HYPERTABLE_DDL) await sql(rawDb, statement);
    else await sql(rawDb, ddl);
    const t = libpqConnection(rawDb);
    // A hypertable is read through its parent (COPY of the parent alone holds no rows).
    const out = shape === 'ticks' ? `COPY (SELECT * FROM ${table}) TO STDOUT (FORMAT binary)` : `COPY ${table} TO STDOUT (FORMAT binary)`;
    // A shell pipe: the rows never pass through (nor are buffered by) this process. Through zx's
    // .pipe() they were, which slowed the raw figure and grew this process to the table's size,
    // an RSS every child forked from it then reported as its own peak (getrusage maxrss).
    const psql = pgBin('psql');
    const into = `COPY ${table} FROM STDIN (FORMAT binary)`;
    const ms = (await timed(() => $({ env: { ...process.env, SRC_PW: s.env.PGPASSWORD ?? '', TGT_PW: t.env.PGPASSWORD ?? '' } })`sh -c ${'PGPASSWORD="$SRC_PW" "$0" "$1" -qc "$2" | PGPASSWORD="$TGT_PW" "$0" "$3" -qc "$4"'} ${psql} ${s.conninfo} ${out} ${t.conninfo} ${into}`)).ms;
    const indexMs = (await timed(async () => { for (const statement of indexes) await sql(rawDb, statement); })).ms;
    const copied = Number((await sql(rawDb, `SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    if (copied !== rows) throw new Error(`the raw pipe copied ${copied} rows, not ${rows}`);
    return ms + indexMs;
  };

  let pgcopydb: { ms: number; exit: number | null } | undefined;
  if (values.pgcopydb && shape !== 'ticks') {
    const pgCopyDb = await recreateDb(target, 'pgcopydb');
    const run = await timed(() => $({ env: { ...process.env, PGCOPYDB_SOURCE_PGURI: source, PGCOPYDB_TARGET_PGURI: pgCopyDb } })`pgcopydb clone --table-jobs 2 --index-jobs 2 --no-owner --no-acl --dir ${path.join(work, 'pgcopydb')} --not-consistent`.nothrow());
    pgcopydb = { ms: run.ms, exit: run.value.exitCode };
  }

  const samples = { raw: [] as number[], copy: [] as number[], verify: [] as number[], rss: [] as number[] };
  let oursDb = '';
  for (let i = 0; i < repeat; i++) {
    samples.raw.push(await rawPipe());
    oursDb = await recreateDb(target, 'tickvault');
    if (shape === 'ticks') await sql(oursDb, 'CREATE EXTENSION IF NOT EXISTS timescaledb');
    const cli = (args: string[]) => tickvault('migrate', args);
    const common = ['--plan', 'copy-table', '--table', `public.${table}`, '--source-url', source, '--target-url', oursDb];
    await cli(['run', '--phase', 'preflight', ...common]);
    const copy = await timed(() => cli(['run', '--phase', 'backfill', ...common]));
    samples.rss.push(JSON.parse(copy.value.stdout.trim().split('\n').at(-1)!).maxRssMb as number);
    samples.copy.push(copy.ms);
    samples.verify.push((await timed(() => cli(['run', '--phase', 'verify', ...common]))).ms);
  }
  const copyVerify = samples.copy.map((c, i) => c + samples.verify[i]!);

  const verifyCli = (args: string[]) => tickvault('verify', args, { nothrow: true });
  const verifyArgs = ['--source-url', source, '--target-url', oursDb, '--table', `public.${table}`];
  const clean = await timed(() => verifyCli(verifyArgs));
  await sql(oursDb, dirty);
  const dirtyRun = await timed(() => verifyCli(verifyArgs));
  const dirtySummary = JSON.parse(dirtyRun.value.stdout.trim().split('\n').at(-1)!);

  const raw = spread(samples.raw);
  // Copy + verify is two CLI runs: twice Node's own start is a floor no code of ours can go under.
  const nodeStart = await nodeStartMs();
  const result = {
    rows,
    shape,
    repeat,
    rawPipeMs: Math.round(raw.median),
    rawPipeMinMs: Math.round(raw.min),
    ...(pgcopydb ? { pgcopydbMs: Math.round(pgcopydb.ms), pgcopydbExit: pgcopydb.exit, copyVsPgcopydb: Number(ratio(spread(samples.copy).median, pgcopydb.ms)) } : {}),
    copyMs: Math.round(spread(samples.copy).median),
    copyVerifyMs: Math.round(spread(copyVerify).median),
    copyRatio: pairRatio(samples.copy, samples.raw),
    copyVerifyRatio: pairRatio(copyVerify, samples.raw),
    copyMicrosPerRow: Number(((spread(samples.copy).median * 1000) / rows).toFixed(2)),
    verifyCleanMs: Math.round(clean.ms),
    verifyCleanExit: clean.value.exitCode,
    verifyRowsPerSecond: Math.round((rows * 2) / (clean.ms / 1000)),
    verifyWithOneDifferenceMs: Math.round(dirtyRun.ms),
    differenceCostRatio: Number(ratio(dirtyRun.ms, clean.ms)),
    differenceFound: (dirtySummary.differences as { key: string }[] | undefined)?.map((d) => d.key) ?? [],
    copyPeakRssMb: Math.max(...samples.rss),
    nodeStartMs: nodeStart.ms,
    nodeStartWithoutExtraCaCertsMs: nodeStart.withoutExtraCaCertsMs,
    twoNodeStartsVsRawPipe: Number(ratio(2 * nodeStart.ms, raw.median)),
    samplesMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map(Math.round)])),
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(1))),
    note: 'ratios are min/median of alternating raw/tickvault pairs; tickvault and pgcopydb times are whole CLI runs; raw pipe is two psql processes; rows/s counts both sides; peak RSS is the copy process\'s own (VmHWM)',
  };
  console.log(`copy          ${(result.copyMs / 1000).toFixed(1)} s vs raw pipe ${(raw.median / 1000).toFixed(1)} s → ${result.copyRatio.median} (min ${result.copyRatio.min})${pgcopydb ? `; vs pgcopydb ${(pgcopydb.ms / 1000).toFixed(1)} s → ${result.copyVsPgcopydb}` : ''}`);
  console.log(`copy + verify ${(result.copyVerifyMs / 1000).toFixed(1)} s → ${result.copyVerifyRatio.median} × raw pipe (min ${result.copyVerifyRatio.min}; goal ≤ 1.3)`);
  console.log(`floor         two Node starts (${nodeStart.ms} ms each; ${nodeStart.withoutExtraCaCertsMs} ms without NODE_EXTRA_CA_CERTS) = ${result.twoNodeStartsVsRawPipe} × raw pipe before any work`);
  console.log(`verify        ${(clean.ms / 1000).toFixed(1)} s clean (exit ${clean.value.exitCode}, ${result.verifyRowsPerSecond.toLocaleString('en-US')} rows/s), ${(dirtyRun.ms / 1000).toFixed(1)} s with one differing row → ${result.differenceCostRatio} (goal ≤ 2), found ${result.differenceFound.join(', ')}`);
  console.log(`peak RSS of the copy process: ${result.copyPeakRssMb} MiB; load average ${result.loadAverage.join(' ')}`);
  console.log(`saved ${saveResult(`copy-verify-${shape}-${rows}`, result)}`);
  await sql(withDb(stack.DATABASE_URL!, 'postgres'), 'DROP DATABASE IF EXISTS bench_copy_src WITH (FORCE)');
} finally {
  await stopCluster(spec.dataDir, user, 'immediate');
  fs.rmSync(work, { recursive: true, force: true });
}
