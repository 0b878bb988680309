/**
 * Change capture (runbooks/migrations/cdc/): copy-table on a live table.
 *   apply   = captured changes applied per second by one drain (decode + fold + one target transaction per batch)
 *   lag     = the largest lag (bytes, seconds) seen while a writer runs at --rate writes/s for --seconds
 *   cutover = the write pause cutover causes (fence → target writable), from its journal entry
 * Not compared with pgcopydb follow yet (see README, Online migrations).
 * Run: npx tsx scripts/bench/cdc.ts [--rows 200000] [--changes 100000] [--rate 500] [--seconds 10]
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { captureName } from '../../runbooks/migrations/cdc/names';
import { captureLag } from '../../runbooks/migrations/cdc/lag';
import { drain } from '../../runbooks/migrations/cdc/stream';
import { localStack, recreateDb, saveResult, sql, tickvault, timed, withDb } from './common';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, changes: { type: 'string', default: '100000' }, rate: { type: 'string', default: '500' }, seconds: { type: 'string', default: '10' } } });
const rows = Number(values.rows);
const changes = Number(values.changes);
const stack = await localStack();
const admin = withDb(stack.DATABASE_URL!, 'postgres');
await sql(admin, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database IN ('bench_cdc_src', 'bench_cdc_dst')");
const source = await recreateDb(stack.DATABASE_URL!, 'bench_cdc_src');
const target = await recreateDb(stack.DATABASE_URL!, 'bench_cdc_dst');
await sql(source, `CREATE TABLE public.ticks (id bigint PRIMARY KEY, symbol text NOT NULL, ts timestamptz NOT NULL, price numeric(18,2) NOT NULL, volume numeric(18,8) NOT NULL);
  INSERT INTO public.ticks SELECT g, 'S' || (g % 50), now() - g * interval '1 second', 100 + g % 97, g % 13 FROM generate_series(1, ${rows}) g`);
const args = ['--plan', 'copy-table', '--table', 'public.ticks', '--source-url', source, '--target-url', target];
for (const phase of ['preflight', 'backfill', 'verify']) await tickvault('migrate', ['run', ...args, '--phase', phase]);

// A burst of changes in 100-row transactions: 60% updates, 20% inserts, 20% deletes.
const txns = Math.ceil(changes / 100);
await sql(source, `DO $$ BEGIN FOR i IN 0..${txns - 1} LOOP
  UPDATE public.ticks SET price = price + 1 WHERE id > i * 60 AND id <= i * 60 + 60;
  INSERT INTO public.ticks SELECT ${rows} + i * 20 + g, 'N', now(), 1, 1 FROM generate_series(1, 20) g;
  DELETE FROM public.ticks WHERE id > ${rows} / 2 + i * 20 AND id <= ${rows} / 2 + i * 20 + 20;
  COMMIT; END LOOP; END $$`);
const spec = { name: captureName('copy-table', 'public.ticks', target), target: { schema: 'public', name: 'ticks' }, key: ['id'] };
const src = new pg.Client({ connectionString: source });
const dst = new pg.Client({ connectionString: target });
await src.connect();
await dst.connect();
const applied = await timed(() => drain(src, dst, spec));
const n = applied.value.applied.inserts + applied.value.applied.updates + applied.value.applied.deletes;
const perSecond = Math.round(n / (applied.ms / 1000));
process.stderr.write(`apply: ${n} changes in ${applied.ms} ms = ${perSecond}/s\n`);

// Lag under a steady write rate, drained continuously.
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const writer = new pg.Client({ connectionString: source });
await writer.connect();
let written = 0;
let maxBytes = 0;
let maxSeconds = 0;
const until = Date.now() + seconds * 1000;
const ticker = setInterval(() => {
  const due = Math.round(rate / 10);
  void writer.query(`UPDATE public.ticks SET volume = volume + 1 WHERE id IN (SELECT 1 + (random() * ${rows / 2})::bigint FROM generate_series(1, ${due}))`).then(() => (written += due));
}, 100);
while (Date.now() < until) {
  await drain(src, dst, spec);
  const lag = await captureLag(src, dst, spec.name);
  maxBytes = Math.max(maxBytes, lag.bytes);
  maxSeconds = Math.max(maxSeconds, lag.seconds);
}
clearInterval(ticker);
process.stderr.write(`lag at ${rate} writes/s: max ${maxBytes} bytes, ${maxSeconds} s (${written} writes)\n`);

for (const phase of ['dual-write', 'cutover']) await tickvault('migrate', ['run', ...args, '--phase', phase]);
const pause = await dst.query<{ ms: number }>("SELECT (details->>'writePauseMs')::int AS ms FROM tickvault.migration_events WHERE phase = 'cutover' AND event = 'end' ORDER BY id DESC LIMIT 1");
process.stderr.write(`cutover write pause: ${pause.rows[0]?.ms} ms on ${rows} rows\n`);
await tickvault('migrate', ['run', ...args, '--phase', 'cleanup', '--safety-window', '0']);
await Promise.all([src.end(), dst.end(), writer.end()]);
const file = saveResult('cdc', { rows, changes: n, applyMs: applied.ms, changesPerSecond: perSecond, rate, seconds, maxLagBytes: maxBytes, maxLagSeconds: maxSeconds, cutoverWritePauseMs: pause.rows[0]?.ms ?? null });
process.stderr.write(`saved ${file}\n`);
