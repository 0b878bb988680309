import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlan } from '../../runbooks/migrations/engine';
import { supabaseToTimescale } from '../../runbooks/migrations/plans/supabase-to-timescale';
import { seed004Checks } from '../../runbooks/validate/seed004';
import type { Check } from '../../runbooks/verify/integrity';
import { addCollection, startQdrantDouble, type QdrantDouble } from '../doubles/qdrant-http-double';
import { createDatabase } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';
import { requireTimescale } from '../helpers/timescale';
import { buildSupabaseSource } from './fixtures/seed004-supabase';

// validate --suite seed004: all 17 checks pass on a real migration, and each
// one FAILs when what it guards is broken (each break inside a transaction
// that is rolled back, so one migrated database serves every case).
const { stack, env, engine } = migrationFixture();
let ready = false;
let src = '';
let target = '';
let qdrant: QdrantDouble; // labelled HTTP double of Qdrant (test/doubles)

beforeAll(async () => {
  ready = await requireTimescale(stack.postgresUrl, 'seed 004 validation');
  qdrant = await startQdrantDouble();
  addCollection(qdrant, 'trades', 843);
  if (!ready) return;
  src = await createDatabase(stack.postgresUrl, 'sbv');
  await buildSupabaseSource(src);
  target = await createDatabase(stack.postgresUrl, 'sbvt');
  for (const p of supabaseToTimescale.phases) await inProcess((run) => runPlan(run, supabaseToTimescale, {}, engine(target, src), { phase: p.id, all: false }));
}, 600_000);
afterAll(async () => {
  expect(qdrant.violations).toEqual([]);
  await qdrant.close();
});

const verdicts = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c.verdict]));

/** Run the checks on a connection where `breakIt` ran in a transaction that is then rolled back. */
async function broken(breakIt: string[], opts: { now?: Date; on?: string } = {}): Promise<Record<string, string>> {
  const db = new pg.Client({ connectionString: opts.on ?? target });
  const source = new pg.Client({ connectionString: src });
  await Promise.all([db.connect(), source.connect()]);
  try {
    await db.query('BEGIN');
    for (const sql of breakIt) await db.query(sql);
    return verdicts(await seed004Checks(db, { source, qdrant: { url: qdrant.url }, now: opts.now }));
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
    await Promise.all([db.end(), source.end()]);
  }
}

describe('validate --suite seed004', () => {
  it('runs the 17 checks from the CLI: 15 PASS, journals and tags SKIP with the reason (no such tables)', async (t) => {
    if (!ready) t.skip();
    const run = await runRunbook('validate', ['--suite', 'seed004', '--database-url', target, '--source-url', src, '--json'], { env: { ...env, QDRANT_URL: qdrant.url } });
    expect(run.code, run.stdout).toBe(0);
    const checks = run.summary!.checks as Check[];
    expect(checks).toHaveLength(17);
    expect(checks.filter((c) => c.verdict === 'SKIP').map((c) => `${c.name}: ${c.detail}`)).toEqual(['public.journal_entries.trade_id → public.trades: no public.journal_entries table', 'public.trade_tags.trade_id → public.trades: no public.trade_tags table']);
    // Tick freshness is measured against the clock: WARN (over 5 min) is possible on a slow machine; the rest must PASS.
    expect(checks.find((c) => c.name === 'tick_data freshness')?.verdict).toMatch(/^(PASS|WARN)$/);
    expect(checks.filter((c) => c.verdict !== 'SKIP' && c.name !== 'tick_data freshness').every((c) => c.verdict === 'PASS'), JSON.stringify(checks, null, 1)).toBe(true);
    expect(qdrant.operations).toContain('count_points');
    const usage = await runRunbook('validate', ['--suite', 'nope', '--database-url', target, '--json'], { env });
    expect(usage.code).toBe(2);
  });

  it('without a source or Qdrant the checks that need them SKIP and say why; on a plain PostgreSQL table the layout FAILs', async (t) => {
    if (!ready) t.skip();
    const db = new pg.Client({ connectionString: src });
    await db.connect();
    try {
      const checks = await seed004Checks(db);
      expect(checks).toHaveLength(17);
      const by = Object.fromEntries(checks.map((c) => [c.name, c]));
      expect(by['public.users count vs source']).toMatchObject({ verdict: 'SKIP', detail: 'no --source-url' });
      expect(by['trades embedding coverage']).toMatchObject({ verdict: 'SKIP', detail: 'QDRANT_URL not set' });
      expect(by['tick_data is a hypertable']).toMatchObject({ verdict: 'FAIL', detail: 'TimescaleDB is not installed' });
      expect(by['aggregates fresh']).toMatchObject({ verdict: 'SKIP', detail: 'TimescaleDB is not installed in this database' });
    } finally {
      await db.end();
    }
  });

  const future = new Date(Date.now() + 3 * 3600_000);
  const cases: [string, string[], { now?: Date; points?: number }?][] = [
    ['public.users count vs source', ["INSERT INTO public.users (id, email, display_name) VALUES (gen_random_uuid(), 'extra@example.com', 'x')"]],
    ['public.trades count vs source', ['DELETE FROM public.trades WHERE id = (SELECT id FROM public.trades LIMIT 1)']],
    ['public.tick_data count vs source', ['DELETE FROM public.tick_data WHERE id = (SELECT max(id) FROM public.tick_data)']],
    ['public.trades.user_id → public.users', ['ALTER TABLE public.trades DROP CONSTRAINT trades_user_id_fkey', 'UPDATE public.trades SET user_id = gen_random_uuid() WHERE id = (SELECT id FROM public.trades LIMIT 1)']],
    ['public.journal_entries.trade_id → public.trades', ['CREATE TABLE public.journal_entries (id int, trade_id uuid)', 'INSERT INTO public.journal_entries VALUES (1, gen_random_uuid())']],
    ['public.trade_tags.trade_id → public.trades', ['CREATE TABLE public.trade_tags (tag text, trade_id uuid)', "INSERT INTO public.trade_tags VALUES ('x', gen_random_uuid())"]],
    ['compression: segment by symbol, order by ts DESC', ["SELECT count(decompress_chunk(c, true)) FROM show_chunks('public.tick_data') c", 'SELECT remove_compression_policy(\'public.tick_data\')', "ALTER TABLE public.tick_data SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts ASC')"]],
    ['compression policy scheduled', ["SELECT remove_compression_policy('public.tick_data')"]],
    ['old chunks compressed', ["SELECT decompress_chunk(c) FROM show_chunks('public.tick_data', older_than => interval '10 days') c LIMIT 1"]],
    ['four OHLCV aggregates (1m, 5m, 1h, 1d)', ['DROP MATERIALIZED VIEW public.tick_ohlcv_5m']],
    ['each aggregate has a refresh policy', ["SELECT remove_continuous_aggregate_policy('public.tick_ohlcv_1h')"]],
    ['aggregates fresh', ["INSERT INTO public.tick_data VALUES (99000001, 'BTC-USD', now() + interval '2 days', 100, 1)"]],
    ['aggregates hold every tick', ["DELETE FROM public.tick_data WHERE id IN (SELECT id FROM public.tick_data WHERE ts < now() - interval '2 days' LIMIT 3)"]],
    ['tick_data freshness', [], { now: future }],
    ['tick prices positive, volumes not negative', ['UPDATE public.tick_data SET price = -1 WHERE id = (SELECT max(id) FROM public.tick_data)']],
    ['trades embedding coverage', [], { points: 842 }],
  ];
  for (const [name, sql, opts] of cases) it(`${name} can FAIL`, async (t) => {
    if (!ready) t.skip();
    if (opts?.points) addCollection(qdrant, 'trades', opts.points);
    const v = await broken(sql, opts);
    addCollection(qdrant, 'trades', 843);
    expect(v[name]).toBe('FAIL');
    // Only what was broken (and what depends on it) fails.
    expect(Object.values(await broken([])).filter((x) => x === 'FAIL')).toEqual([]);
  });
});
