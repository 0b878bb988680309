/**
 * Change capture (runbooks/migrations/cdc/) against `pgcopydb follow`, on one workload (cdc-workload.ts):
 *   apply   = a backlog of --changes row changes caught up: changes per second
 *             (tickvault: one drain; pgcopydb: follow started → marker on the target, and its apply alone)
 *   lag     = the largest lag (bytes behind the applied position; seconds by the newest ts) while a
 *             writer runs at --rate writes/s for --seconds (tickvault drains in a loop, as a follower would)
 *   cutover = the write pause at cutover (tickvault: its cutover phase, fence → target writable, parity
 *             proof included; pgcopydb: writes stopped → follow exited at `sentinel set endpos --current`)
 * Both targets are then compared with the source by a plain-SQL hash.
 * Run: npx tsx scripts/bench/cdc.ts [--rows 20000] [--changes 20000] [--rate 200] [--seconds 5] [--tool both|tickvault|pgcopydb]
 * pgcopydb follow 0.10 needs the wal2json plugin on the source (apt: postgresql-15-wal2json; scripts/bootstrap installs it).
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { captureName } from '../../runbooks/migrations/cdc/names';
import { drain } from '../../runbooks/migrations/cdc/stream';
import { pgcopydbFollow, type PgcopydbFigures } from './cdc-pgcopydb';
import { burst, probeOnTarget, now, sampleLag, SteadyWriter, tableHash, TICKS_DDL, type LagSamples } from './cdc-workload';
import { localStack, recreateDb, saveResult, sql, tickvault, timed, withDb } from './common';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, changes: { type: 'string', default: '20000' }, rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '5' }, tool: { type: 'string', default: 'both' } } });
const opts = { rows: Number(values.rows), changes: Number(values.changes), rate: Number(values.rate), seconds: Number(values.seconds) };
const tools = values.tool === 'both' ? ['tickvault', 'pgcopydb'] : [values.tool!];
const stack = await localStack();
const admin = withDb(stack.DATABASE_URL!, 'postgres');
await sql(admin, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database IN ('bench_cdc_src', 'bench_cdc_dst', 'bench_pgc_src', 'bench_pgc_dst')");

interface TickvaultFigures {
  changes: number;
  applyMs: number;
  changesPerSecond: number;
  lag: LagSamples;
  written: number;
  cutoverWritePauseMs: number | null;
  equal: boolean;
  /** The row with 9-digit id and 7-digit price: 'exact' or how it was altered. */
  probe: string;
}

async function tickvaultCapture(): Promise<TickvaultFigures> {
  const source = await recreateDb(stack.DATABASE_URL!, 'bench_cdc_src');
  const target = await recreateDb(stack.DATABASE_URL!, 'bench_cdc_dst');
  await sql(source, TICKS_DDL(opts.rows));
  const args = ['--plan', 'copy-table', '--table', 'public.ticks', '--source-url', source, '--target-url', target];
  for (const phase of ['preflight', 'backfill', 'verify']) await tickvault('migrate', ['run', ...args, '--phase', phase]);
  const changes = await burst(source, opts.rows, opts.changes);
  const spec = { name: captureName('copy-table', 'public.ticks', target), target: { schema: 'public', name: 'ticks' }, key: ['id'] };
  const src = new pg.Client({ connectionString: source });
  const dst = new pg.Client({ connectionString: target });
  const probe = new pg.Client({ connectionString: source });
  const probeDst = new pg.Client({ connectionString: target });
  const writerClient = new pg.Client({ connectionString: source });
  await Promise.all([src, dst, probe, probeDst, writerClient].map((c) => c.connect()));
  try {
    const applied = await timed(() => drain(src, dst, spec));
    const n = applied.value.applied.inserts + applied.value.applied.updates + applied.value.applied.deletes;
    if (n !== changes) throw new Error(`tickvault applied ${n} changes, the burst made ${changes}`);

    // Lag under a steady write rate; the capture is drained in a loop (50 ms between empty drains).
    const writer = new SteadyWriter(writerClient, opts.rate, opts.rows);
    const since = new Date();
    writer.start();
    const end = now() + opts.seconds * 1000;
    const follower = (async () => {
      while (now() < end) {
        const r = await drain(src, dst, spec);
        if (!r.applied.transactions) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const progressLsn = async () => (await probeDst.query<{ lsn: string }>('SELECT lsn::text AS lsn FROM tickvault.cdc_progress WHERE capture = $1', [spec.name])).rows[0]?.lsn ?? null;
    const lag = await sampleLag(probe, probeDst, progressLsn, () => now() < end, since);
    await follower;
    await writer.stop();

    for (const phase of ['dual-write', 'cutover']) await tickvault('migrate', ['run', ...args, '--phase', phase]);
    const pause = await dst.query<{ ms: number }>("SELECT (details->>'writePauseMs')::int AS ms FROM tickvault.migration_events WHERE phase = 'cutover' AND event = 'end' ORDER BY id DESC LIMIT 1");
    const equal = (await tableHash(source)) === (await tableHash(target));
    const probeResult = await probeOnTarget(target);
    await tickvault('migrate', ['run', ...args, '--phase', 'cleanup', '--safety-window', '0']);
    return { changes, applyMs: Math.round(applied.ms), changesPerSecond: Math.round(n / (applied.ms / 1000)), lag, written: writer.written, cutoverWritePauseMs: pause.rows[0]?.ms ?? null, equal, probe: probeResult };
  } finally {
    await Promise.all([src, dst, probe, probeDst, writerClient].map((c) => c.end()));
  }
}

async function pgcopydbCapture(): Promise<PgcopydbFigures> {
  const source = await recreateDb(stack.DATABASE_URL!, 'bench_pgc_src');
  const target = await recreateDb(stack.DATABASE_URL!, 'bench_pgc_dst');
  // Built the same way on both sides (deterministic rows): the base copy is not what is measured.
  await sql(source, TICKS_DDL(opts.rows));
  await sql(target, TICKS_DDL(opts.rows));
  return pgcopydbFollow(source, target, opts);
}

const ours = tools.includes('tickvault') ? await tickvaultCapture() : undefined;
const theirs = tools.includes('pgcopydb') ? await pgcopydbCapture() : undefined;
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? Number((a / b).toFixed(2)) : null);
const rows: [string, number | null | undefined, number | null | undefined, string][] = [
  ['changes applied/s (catch-up of the backlog)', ours?.changesPerSecond, theirs?.changesPerSecond, 'higher is better'],
  ['changes applied/s (apply alone; pgcopydb: first commit → marker)', ours?.changesPerSecond, theirs?.applyOnlyChangesPerSecond, 'higher is better'],
  [`max lag at ${opts.rate} writes/s, bytes`, ours?.lag.maxBytes, theirs?.lag.maxBytes, 'lower is better'],
  [`max lag at ${opts.rate} writes/s, seconds`, ours?.lag.maxSeconds, theirs?.lag.maxSeconds, 'lower is better'],
  [`median lag at ${opts.rate} writes/s, bytes`, ours?.lag.medianBytes, theirs?.lag.medianBytes, 'lower is better'],
  [`median lag at ${opts.rate} writes/s, seconds`, ours?.lag.medianSeconds, theirs?.lag.medianSeconds, 'lower is better'],
  ['cutover write pause, ms', ours?.cutoverWritePauseMs, theirs?.cutoverWritePauseMs, 'lower is better'],
];
for (const [what, a, b, better] of rows) process.stderr.write(`${what.padEnd(66)} tickvault ${String(a ?? '-').padStart(10)}  pgcopydb ${String(b ?? '-').padStart(10)}  ratio ${String(ratio(a, b) ?? '-').padStart(6)}  (${better})\n`);
process.stderr.write(`targets equal to their sources by a plain-SQL hash: tickvault ${ours?.equal ?? '-'}, pgcopydb ${theirs?.equal ?? '-'}\n`);
process.stderr.write(`row with id 987654321, price 12345.67: tickvault ${ours?.probe ?? '-'}; pgcopydb ${theirs?.probe ?? '-'}\n`);
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
const file = saveResult(`cdc-vs-pgcopydb-${opts.rows}`, {
  note: `measured under load (shared 2-core machine, load average ${load} at the end): one run per tool, a smoke size`,
  ...opts,
  tickvault: ours ?? null,
  pgcopydb: theirs ?? null,
  ratios: Object.fromEntries(rows.map(([what, a, b]) => [what, ratio(a, b)])),
});
process.stderr.write(`saved ${file}\n`);
