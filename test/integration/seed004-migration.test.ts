import { beforeAll, describe, expect, it } from 'vitest';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import { supabaseToTimescale } from '../../runbooks/migrations/plans/supabase-to-timescale';
import { cloneDatabase, createDatabase, query } from '../helpers/databases';
import { inProcess, migrationFixture, plainHash } from '../helpers/migrate-fixtures';
import { requireTimescale } from '../helpers/timescale';
import { buildSupabaseSource } from './fixtures/seed004-supabase';

// Seed 004 end to end on a real TimescaleDB: a Supabase-shaped source, the
// supabase-to-timescale plan, and checks in plain SQL over the source, the
// target and timescaledb_information (no tickvault code).
const { stack, engine } = migrationFixture();
const plan = supabaseToTimescale;
const phases = plan.phases.map((p) => p.id);
let ready = false;
let template = '';

/** A private copy of the Supabase source (the plan only reads it; the window tests write to it). */
async function source(): Promise<string> {
  const name = `sb_${Math.random().toString(16).slice(2, 10)}`;
  await cloneDatabase(stack.postgresUrl, template, name);
  const url = new URL(stack.postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Order-free row hash of a table, by its primary key order: plain SQL. */
const rowsHash = async (url: string, table: string) =>
  (await query<{ n: string; h: string }>(url, `SELECT count(*)::text AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h FROM (SELECT * FROM ${table}) t`))[0];

/** Tables' contents plus installed extensions and relations, so a rollback that leaves an extension or view behind shows. */
const wholeHash = async (url: string) => {
  // timescaledb may stay after a rollback (empty: no hypertables, aggregates or jobs; see the plan's expand rollback).
  const ext = await query<{ e: string }>(url, "SELECT string_agg(extname, ',' ORDER BY extname) AS e FROM pg_extension WHERE extname <> 'timescaledb'");
  const rels = await query<{ r: string }>(url, "SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1) AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'");
  const hasTs = (await query<{ ok: boolean }>(url, "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL AS ok"))[0]!.ok;
  const ts = hasTs ? (await query<{ n: string }>(url, "SELECT (SELECT count(*) FROM timescaledb_information.hypertables)::text || '/' || (SELECT count(*) FROM timescaledb_information.jobs WHERE job_id >= 1000)::text AS n"))[0]!.n : '0/0';
  // Tables' rows from plainHash (its lines "schema.table [columns] n hash"); views and triggers here, leaving out
  // those an extension owns (TimescaleDB's information views stay with it) and the engine's journal trigger.
  const tables = (await plainHash(url, new Date('2100-01-01'))).split('\n').filter((l) => /^\S+ \[\{"n":/.test(l));
  const objects = await query<{ v: string }>(url, `SELECT c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid) AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^_?timescaledb'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     UNION ALL SELECT tgrelid::regclass::text || ' ' || tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE NOT tgisinternal AND n.nspname !~ '^(_?timescaledb|tickvault)' ORDER BY 1`);
  const user = [...tables, ...objects.map((o) => o.v)];
  return `${user.join('\n')}\n${ext[0]!.e}\n${rels[0]!.r}\n${ts}`;
};

const runAll = (src: string, target: string, upTo = phases.length - 1) =>
  (async () => {
    for (const phase of phases.slice(0, upTo + 1)) await inProcess((run) => runPlan(run, plan, {}, engine(target, src), { phase, all: false }));
  })();

beforeAll(async () => {
  ready = await requireTimescale(stack.postgresUrl, 'seed 004 (supabase-to-timescale)');
  if (!ready) return;
  const url = await createDatabase(stack.postgresUrl, 'sbtpl');
  await buildSupabaseSource(url);
  template = new URL(url).pathname.slice(1);
});

describe('supabase-to-timescale (seed 004)', () => {
  it('migrates users, trades and tick_data into a compressed hypertable with four OHLCV aggregates and their policies', async (t) => {
    if (!ready) t.skip();
    const src = await source();
    const target = await createDatabase(stack.postgresUrl, 'sbts');
    await runAll(src, target, phases.indexOf('verify'));

    // Same rows, table by table (plain SQL on both sides; compressed chunks read through the hypertable).
    for (const table of ['public.users', 'public.trades', 'public.tick_data']) expect(await rowsHash(target, table), table).toEqual(await rowsHash(src, table));
    expect((await query<{ n: string }>(target, 'SELECT count(*)::text AS n FROM public.users'))[0]!.n).toBe('11');
    expect((await query<{ n: string }>(target, 'SELECT count(*)::text AS n FROM public.trades'))[0]!.n).toBe('843');

    // Layout, from timescaledb_information.
    expect(await query(target, "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'")).toEqual([{ hypertable_name: 'tick_data', compression_enabled: true }]);
    expect(await query(target, "SELECT column_name, time_interval::text AS i FROM timescaledb_information.dimensions WHERE hypertable_name = 'tick_data'")).toEqual([{ column_name: 'ts', i: '1 day' }]);
    expect(await query(target, "SELECT attname, segmentby_column_index AS s, orderby_asc AS asc FROM timescaledb_information.compression_settings WHERE hypertable_name = 'tick_data' ORDER BY 1")).toEqual([
      { attname: 'symbol', s: 1, asc: null },
      { attname: 'ts', s: null, asc: false },
    ]);
    const [chunks] = await query<{ old: string; compressed: string; recent_compressed: string }>(target, `SELECT count(*) FILTER (WHERE range_end <= now() - interval '7 days')::text AS old,
        count(*) FILTER (WHERE is_compressed)::text AS compressed, count(*) FILTER (WHERE is_compressed AND range_end > now() - interval '7 days')::text AS recent_compressed
      FROM timescaledb_information.chunks WHERE hypertable_name = 'tick_data'`);
    expect(Number(chunks!.old)).toBeGreaterThan(10);
    expect(chunks!.compressed).toBe(chunks!.old);
    expect(chunks!.recent_compressed).toBe('0');
    expect((await query<{ v: string }>(target, "SELECT view_name AS v FROM timescaledb_information.continuous_aggregates ORDER BY 1")).map((r) => r.v)).toEqual(['tick_ohlcv_1d', 'tick_ohlcv_1h', 'tick_ohlcv_1m', 'tick_ohlcv_5m']);
    const jobs = await query<{ j: string }>(target, "SELECT proc_name || ' ' || coalesce(hypertable_name, '') AS j FROM timescaledb_information.jobs WHERE job_id >= 1000 ORDER BY 1");
    expect(jobs.filter((j) => j.j.startsWith('policy_compression')).map((j) => j.j)).toEqual(['policy_compression tick_data']);
    expect(jobs.filter((j) => j.j.startsWith('policy_refresh_continuous_aggregate'))).toHaveLength(4);

    // Each aggregate holds exactly what a plain GROUP BY over the raw ticks gives.
    for (const [view, bucket] of [['tick_ohlcv_1m', '1 minute'], ['tick_ohlcv_5m', '5 minutes'], ['tick_ohlcv_1h', '1 hour'], ['tick_ohlcv_1d', '1 day']]) {
      const direct = await rowsHash(target, `(SELECT time_bucket('${bucket}', ts) AS bucket, symbol, (array_agg(price ORDER BY ts))[1] AS open, max(price) AS high, min(price) AS low, (array_agg(price ORDER BY ts DESC))[1] AS close, sum(volume) AS volume, count(*) AS ticks FROM public.tick_data GROUP BY 1, 2) x`);
      expect(await rowsHash(target, `public.${view}`), view).toEqual(direct);
    }

    // Supabase's parts are stripped, and the report says which.
    const [pre] = await query<{ d: { rolesStrategy: string; notCarried: { kind: string; name: string }[]; extensions: string[] } }>(target, "SELECT details AS d FROM tickvault.migration_events WHERE plan = $1 AND phase = 'preflight' AND event = 'end'", [plan.id]);
    expect(pre!.d.rolesStrategy).toBe('strip');
    expect(pre!.d.extensions).toEqual(['pgcrypto', 'uuid-ossp']);
    const names = pre!.d.notCarried.map((n) => `${n.kind}: ${n.name}`);
    for (const expected of ['role: anon', 'role: authenticated', 'role: service_role', 'policy: users_self on public.users', 'policy: trades_owner on public.trades', 'policy: ticks_public on public.tick_data', 'row level security: public.trades', 'schema: auth']) expect(names).toContain(expected);
    expect(names.some((n) => n.startsWith('foreign key: public.users users_id_fkey'))).toBe(true);
    expect(await query(target, "SELECT polname FROM pg_policy")).toEqual([]);
    expect(await query(target, "SELECT relname FROM pg_class WHERE relrowsecurity")).toEqual([]);
    expect(await query(target, "SELECT grantee FROM information_schema.role_table_grants WHERE grantee IN ('anon', 'authenticated', 'service_role')")).toEqual([]);
    expect((await query<{ e: string }>(target, "SELECT extname AS e FROM pg_extension WHERE extname IN ('pgcrypto', 'uuid-ossp', 'timescaledb') ORDER BY 1")).map((r) => r.e)).toEqual(['pgcrypto', 'timescaledb', 'uuid-ossp']);
    // The trades → users key is carried; defaults work (gen_random_uuid from pgcrypto).
    expect(await query(target, "SELECT conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")).toEqual([{ conname: 'trades_user_id_fkey' }]);

    // The dual-write window: new, changed and deleted source rows reach the target; aggregates follow at cutover.
    const [u] = await query<{ id: string }>(src, 'SELECT id::text FROM public.users ORDER BY email LIMIT 1');
    await query(src, "INSERT INTO public.trades (user_id, symbol, side, quantity, entry_price, opened_at) VALUES ($1, 'BTC-USD', 'long', 1, 123.45, now())", [u!.id]);
    await query(src, "UPDATE public.trades SET notes = 'edited in the window' WHERE id = (SELECT id FROM public.trades ORDER BY id LIMIT 1)");
    await query(src, 'DELETE FROM public.trades WHERE id = (SELECT id FROM public.trades ORDER BY id DESC LIMIT 1)');
    await query(src, "INSERT INTO public.tick_data SELECT 1000000 + g, 'ETH-USD', now() - interval '30 days' + g * interval '1 second', 99, 1 FROM generate_series(1, 5) g");
    await query(src, "INSERT INTO public.tick_data SELECT 2000000 + g, 'BTC-USD', now() - g * interval '1 second', 101, 2 FROM generate_series(1, 5) g");
    await runAll(src, target);
    for (const table of ['public.users', 'public.trades', 'public.tick_data']) expect(await rowsHash(target, table), `after the window: ${table}`).toEqual(await rowsHash(src, table));
    expect((await query<{ n: string }>(target, 'SELECT sum(ticks)::text AS n FROM public.tick_ohlcv_1d'))[0]!.n).toBe((await query<{ n: string }>(src, 'SELECT count(*)::text AS n FROM public.tick_data'))[0]!.n);
    // Cleanup removed the capture (slot, publication); no env was configured, so the journal says readers were NOT switched.
    expect(await query(src, 'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()')).toEqual([]);
    expect(await query(src, 'SELECT pubname FROM pg_publication')).toEqual([]);
    expect(await query(target, "SELECT details->'readerSwitch'->>'switched' AS s FROM tickvault.migration_events WHERE plan = $1 AND phase = 'cutover' AND event = 'end'", [plan.id])).toEqual([{ s: 'false' }]);
  }, 400_000);

  it('refuses a target that already has the tables (exit 4, nothing changed)', async (t) => {
    if (!ready) t.skip();
    const src = await source();
    const target = await createDatabase(stack.postgresUrl, 'sbts');
    await query(target, 'CREATE TABLE public.trades (id int)');
    const before = await wholeHash(target);
    await expect(inProcess((run) => runPlan(run, plan, {}, engine(target, src), { phase: 'preflight', all: false }))).rejects.toMatchObject({ exitCode: 4 });
    expect(await wholeHash(target)).toBe(before);
  });

  it('rolls back from phase boundaries: target as before (pgcrypto, uuid-ossp dropped; timescaledb stays, empty), source unchanged', async (t) => {
    if (!ready) t.skip();
    const src = await source();
    const sourceBefore = await wholeHash(src);
    // npm test: the boundaries where state changes most (tables, hypertable and aggregates created; data in; the end). Every one in npm run test:exhaustive.
    const boundaries = process.env.TICKVAULT_TEST_KILL_POINTS === 'all' ? [...phases.keys()] : [phases.indexOf('expand'), phases.indexOf('backfill'), phases.length - 1];
    for (const k of boundaries) {
      const target = await createDatabase(stack.postgresUrl, 'sbrb');
      const before = await wholeHash(target);
      await runAll(src, target, k);
      if (k >= phases.indexOf('expand')) expect((await query(target, "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'tick_data'")).length).toBe(1);
      const { rolledBack } = await inProcess((run) => rollbackPlan(run, plan, {}, engine(target, src)));
      expect(rolledBack).toHaveLength(k + 1);
      expect(await wholeHash(target), `rollback after ${phases[k]}`).toBe(before);
    }
    expect(await wholeHash(src)).toBe(sourceBefore);
  }, 900_000);
});
