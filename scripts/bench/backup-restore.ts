/**
 * Backup and restore of one table's database, against the raw tools on the
 * same database in the same run, alternating raw and tickvault `--repeat`
 * times (min and median of the pairwise ratios: the machine is shared):
 *   backup  = tickvault backup (dump + same-snapshot fingerprints + TOC check + upload + manifest)
 *             ÷ pg_dump -Fd -j2 (default compression) and ÷ pg_dump -Fd -j2 -Z1 (tickvault's compression)
 *   restore = tickvault restore (sha256 of every file + pg_restore + row counts and hashes of every table)
 *             ÷ pg_restore -j2 of pg_dump -Z1's dump, made as tickvault's is (TimescaleDB: its documented
 *               pre_restore, pg_restore, post_restore)
 * Shapes: bars, mixed, ticks (a TimescaleDB hypertable). Goal ≤ 1.15 each.
 *   npx tsx scripts/bench/backup-restore.ts [--rows 2000000] [--shape bars|mixed|ticks] [--repeat 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { $ } from 'zx';
import { libpqConnection, pgBin } from '../../runbooks/stores/postgres/binaries';
import { createBars, createMixed, createTicks, localStack, pairRatio, recreateDb, saveResult, spread, sql, tickvault, timed, withDb } from './common';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, repeat: { type: 'string', default: '3' }, shape: { type: 'string', default: 'bars' } } });
const rows = Number(values.rows);
const repeat = Number(values.repeat);
const shape = values.shape as 'bars' | 'mixed' | 'ticks';
const create = { bars: createBars, mixed: createMixed, ticks: createTicks }[shape];
if (!create) throw new Error(`--shape: bars, mixed or ticks, not ${shape}`);
const stack = await localStack();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-bench-'));
const env = { ...process.env, BACKUP_REPO: `file://${path.join(work, 'repo')}`, TICKVAULT_ENV: 'bench', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

process.stderr.write(`building a ${rows.toLocaleString('en-US')}-row ${shape} database…\n`);
const source = await recreateDb(stack.DATABASE_URL!, 'bench_bars');
await create(source, rows);

const cli = (runbook: string, args: string[]) => tickvault(runbook, args, { env });
const { conninfo, env: pgEnv } = libpqConnection(source);
const admin = withDb(stack.DATABASE_URL!, 'postgres');

/** The raw restore: pg_restore -j2, or TimescaleDB's documented procedure (serial pg_restore between pre_ and post_restore). */
async function rawRestore(dumpDir: string): Promise<number> {
  const rawTarget = await recreateDb(stack.DATABASE_URL!, 'bench_raw_restore');
  const raw = libpqConnection(rawTarget);
  const restoreEnv = { ...process.env, ...raw.env };
  if (shape !== 'ticks') return (await timed(() => $({ env: restoreEnv })`${pgBin('pg_restore')} -j2 --dbname=${raw.conninfo} ${dumpDir}`)).ms;
  return (await timed(async () => {
    await sql(rawTarget, 'CREATE EXTENSION IF NOT EXISTS timescaledb');
    await sql(rawTarget, 'SELECT timescaledb_pre_restore()');
    await $({ env: restoreEnv })`${pgBin('pg_restore')} --dbname=${raw.conninfo} ${dumpDir}`.nothrow(); // the extension exists already: that one error is expected
    await sql(rawTarget, 'SELECT timescaledb_post_restore()');
  })).ms;
}

const samples = { rawDump: [] as number[], rawDumpZ1: [] as number[], backup: [] as number[], rawRestore: [] as number[], restore: [] as number[] };
for (let i = 0; i < repeat; i++) {
  fs.rmSync(path.join(work, 'raw'), { recursive: true, force: true });
  samples.rawDump.push((await timed(() => $({ env: { ...process.env, ...pgEnv } })`${pgBin('pg_dump')} -Fd -j2 -f ${path.join(work, 'raw')} --dbname=${conninfo}`)).ms);
  fs.rmSync(path.join(work, 'raw-z1'), { recursive: true, force: true });
  samples.rawDumpZ1.push((await timed(() => $({ env: { ...process.env, ...pgEnv } })`${pgBin('pg_dump')} -Fd -j2 -Z1 -f ${path.join(work, 'raw-z1')} --dbname=${conninfo}`)).ms);
  const ours = await timed(() => cli('backup', ['postgres', '--database-url', source]));
  samples.backup.push(ours.ms);
  const backupId = JSON.parse(ours.value.stdout.trim().split('\n').at(-1)!).id as string;

  samples.rawRestore.push(await rawRestore(path.join(work, 'raw-z1')));
  await sql(admin, 'DROP DATABASE IF EXISTS bench_restore WITH (FORCE)');
  samples.restore.push((await timed(() => cli('restore', ['postgres', '--backup', backupId, '--target-url', withDb(stack.DATABASE_URL!, 'bench_restore'), '--incident-time', '2025-01-02T00:00:00Z', '--scenario', 'deletion']))).ms);
}
const med = (xs: number[]) => Math.round(spread(xs).median);

const result = {
  rows,
  shape,
  repeat,
  rawDumpMs: med(samples.rawDump),
  rawDumpZ1Ms: med(samples.rawDumpZ1),
  backupMs: med(samples.backup),
  backupRatio: pairRatio(samples.backup, samples.rawDump),
  backupRatioEqualCompression: pairRatio(samples.backup, samples.rawDumpZ1),
  rawRestoreMs: med(samples.rawRestore),
  restoreMs: med(samples.restore),
  restoreRatio: pairRatio(samples.restore, samples.rawRestore),
  restoreMicrosPerRow: Number(((spread(samples.restore).median * 1000) / rows).toFixed(2)),
  restoreRowsPerSecond: Math.round(rows / (spread(samples.restore).median / 1000)),
  samplesMs: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map(Math.round)])),
  loadAverage: os.loadavg().map((l) => Number(l.toFixed(1))),
  note: 'ratios are min/median of alternating raw/tickvault pairs; tickvault times are whole runs of the built CLI (process start included); its backup uses pg_dump -Z1: backupRatio is against the default compression, backupRatioEqualCompression against pg_dump -Z1',
};
console.log(`backup   ${(result.backupMs / 1000).toFixed(1)} s vs pg_dump -Fd -j2 ${(result.rawDumpMs / 1000).toFixed(1)} s → ratio ${result.backupRatio.median} (min ${result.backupRatio.min}; goal ≤ 1.15)`);
console.log(`backup   vs pg_dump -Fd -j2 -Z1 (equal compression) ${(result.rawDumpZ1Ms / 1000).toFixed(1)} s → ratio ${result.backupRatioEqualCompression.median} (min ${result.backupRatioEqualCompression.min})`);
console.log(`restore  ${(result.restoreMs / 1000).toFixed(1)} s vs ${shape === 'ticks' ? 'pre_restore + pg_restore + post_restore' : 'pg_restore -j2'} ${(result.rawRestoreMs / 1000).toFixed(1)} s → ratio ${result.restoreRatio.median} (min ${result.restoreRatio.min}; goal ≤ 1.15)`);
console.log(`restore of ${rows.toLocaleString('en-US')} rows, verified: ${result.restoreMicrosPerRow} µs/row; load average ${result.loadAverage.join(' ')}`);
console.log(`saved ${saveResult(`backup-restore-${shape}-${rows}`, result)}`);
fs.rmSync(work, { recursive: true, force: true });
for (const db of ['bench_bars', 'bench_raw_restore', 'bench_restore']) await sql(admin, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
