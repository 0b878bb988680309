/**
 * Backup and restore of a 2-million-row bars database, against the raw tools
 * on the same database in the same run:
 *   backup  = tickvault backup (dump + same-snapshot fingerprints + TOC check + upload + manifest)
 *             ÷ pg_dump -Fd -j2
 *   restore = tickvault restore (sha256 of every file + pg_restore + row counts and hashes of every table)
 *             ÷ pg_restore -j2
 * Goal ≤ 1.15 each. Run: npx tsx scripts/bench/backup-restore.ts [--rows 2000000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { $ } from 'zx';
import { libpqConnection, pgBin } from '../../runbooks/stores/postgres/binaries';
import { createBars, localStack, ratio, recreateDb, saveResult, sql, tickvault, timed, withDb } from './common';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, repeat: { type: 'string', default: '3' } } });
const rows = Number(values.rows);
const repeat = Number(values.repeat);
const stack = await localStack();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-bench-'));
const env = { ...process.env, BACKUP_REPO: `file://${path.join(work, 'repo')}`, TICKVAULT_ENV: 'bench', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

process.stderr.write(`building a ${rows.toLocaleString('en-US')}-row bars database…\n`);
const source = await recreateDb(stack.DATABASE_URL!, 'bench_bars');
await createBars(source, rows);

const cli = (runbook: string, args: string[]) => tickvault(runbook, args, { env });
const { conninfo, env: pgEnv } = libpqConnection(source);

// Alternate raw and tickvault runs and keep medians: single runs here vary by ±15 %.
const samples = { rawDump: [] as number[], rawDumpZ1: [] as number[], backup: [] as number[], rawRestore: [] as number[], restore: [] as number[] };
let backupId = '';
for (let i = 0; i < repeat; i++) {
  fs.rmSync(path.join(work, 'raw'), { recursive: true, force: true });
  samples.rawDump.push((await timed(() => $({ env: { ...process.env, ...pgEnv } })`${pgBin('pg_dump')} -Fd -j2 -f ${path.join(work, 'raw')} --dbname=${conninfo}`)).ms);
  // The same compression as tickvault's backup (-Z1), for an honest comparison.
  fs.rmSync(path.join(work, 'raw-z1'), { recursive: true, force: true });
  samples.rawDumpZ1.push((await timed(() => $({ env: { ...process.env, ...pgEnv } })`${pgBin('pg_dump')} -Fd -j2 -Z1 -f ${path.join(work, 'raw-z1')} --dbname=${conninfo}`)).ms);
  const ours = await timed(() => cli('backup', ['postgres', '--database-url', source]));
  samples.backup.push(ours.ms);
  backupId = JSON.parse(ours.value.stdout.trim().split('\n').at(-1)!).id as string;

  const rawTarget = await recreateDb(stack.DATABASE_URL!, 'bench_raw_restore');
  const raw = libpqConnection(rawTarget);
  samples.rawRestore.push((await timed(() => $({ env: { ...process.env, ...raw.env } })`${pgBin('pg_restore')} -j2 --dbname=${raw.conninfo} ${path.join(work, 'raw')}`)).ms);
  await sql(withDb(stack.DATABASE_URL!, 'postgres'), 'DROP DATABASE IF EXISTS bench_restore WITH (FORCE)');
  samples.restore.push((await timed(() => cli('restore', ['postgres', '--backup', backupId, '--target-url', withDb(stack.DATABASE_URL!, 'bench_restore'), '--incident-time', '2025-01-02T00:00:00Z', '--scenario', 'deletion']))).ms);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rawDump = { ms: median(samples.rawDump) };
const ours = { ms: median(samples.backup) };
const rawRestore = { ms: median(samples.rawRestore) };
const oursRestore = { ms: median(samples.restore) };

const result = {
  rows,
  repeat,
  rawDumpMs: Math.round(rawDump.ms),
  backupMs: Math.round(ours.ms),
  backupRatio: Number(ratio(ours.ms, rawDump.ms)),
  rawDumpZ1Ms: Math.round(median(samples.rawDumpZ1)),
  backupRatioEqualCompression: Number(ratio(ours.ms, median(samples.rawDumpZ1))),
  rawRestoreMs: Math.round(rawRestore.ms),
  restoreMs: Math.round(oursRestore.ms),
  restoreRatio: Number(ratio(oursRestore.ms, rawRestore.ms)),
  restoreRowsPerSecond: Math.round(rows / (oursRestore.ms / 1000)),
  note: 'medians of alternating runs; tickvault times are whole runs of the built CLI (process start included); its backup uses pg_dump -Z1: backupRatio is against the default compression, backupRatioEqualCompression against pg_dump -Z1',
};
console.log(`backup   ${(ours.ms / 1000).toFixed(1)} s vs pg_dump -Fd -j2 ${(rawDump.ms / 1000).toFixed(1)} s → ratio ${result.backupRatio} (goal ≤ 1.15)`);
console.log(`backup   vs pg_dump -Fd -j2 -Z1 (equal compression) ${(median(samples.rawDumpZ1) / 1000).toFixed(1)} s → ratio ${result.backupRatioEqualCompression}`);
console.log(`restore  ${(oursRestore.ms / 1000).toFixed(1)} s vs pg_restore -j2 ${(rawRestore.ms / 1000).toFixed(1)} s → ratio ${result.restoreRatio} (goal ≤ 1.15)`);
console.log(`restore of ${rows.toLocaleString('en-US')} bars, verified: ${(oursRestore.ms / 1000).toFixed(1)} s, ${result.restoreRowsPerSecond.toLocaleString('en-US')} rows/s`);
console.log(`saved ${saveResult('backup-restore', result)}`);
fs.rmSync(work, { recursive: true, force: true });
for (const db of ['bench_bars', 'bench_raw_restore', 'bench_restore']) await $`psql ${withDb(stack.DATABASE_URL!, 'postgres')} -qc ${`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`}`;
