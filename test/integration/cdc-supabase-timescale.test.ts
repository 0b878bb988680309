import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { Settings } from '../../runbooks/engine/config';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import type { EngineSettings } from '../../runbooks/migrations/plan';
import { supabaseToTimescale } from '../../runbooks/migrations/plans/supabase-to-timescale';
import { LiveWriter, type Step } from '../helpers/cdc-writer';
import { createDatabase, query } from '../helpers/databases';
import { inProcess, migrationFixture, noSessionsLeft } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';
import { requireTimescale } from '../helpers/timescale';
import { buildSupabaseSource } from './fixtures/seed004-supabase';

// Seed 004's whole plan under live writes: users, trades and tick_data are
// inserted, changed and deleted on the Supabase source from backfill to
// cutover (one capture over the three tables); then the TimescaleDB target
// takes writes, and rollback must hand them back to the source. The reader
// switch (USE_TIMESCALEDB) is read through `tickvault env` and the dotenv file.
const fx = migrationFixture();
const plan = supabaseToTimescale;
const TABLES = ['public.users', 'public.trades', 'public.tick_data'];
const SERVICE = 'trading-api';

/** Independent: count and md5 of every row's text, ordered by id (plain SQL, per table). */
async function hashes(url: string): Promise<Record<string, { n: string; h: string | null }>> {
  const out: Record<string, { n: string; h: string | null }> = {};
  for (const t of TABLES) out[t] = (await query<{ n: string; h: string | null }>(url, `SELECT count(*)::text AS n, md5(string_agg(x::text, E'\\n' ORDER BY x.id::text)) AS h FROM ${t} x`))[0]!;
  return out;
}

/** Rows changed per table by a writer's steps (the LiveWriter counts by kind only). */
type PerTable = Record<'users' | 'trades' | 'ticks', number>;
const perTable = (): PerTable => ({ users: 0, trades: 0, ticks: 0 });
const n = (r: pg.QueryResult, into: PerTable, table: keyof PerTable) => ((into[table] += r.rowCount ?? 0), r.rowCount ?? 0);
const pick = (table: string, random: (k: number) => number) => `(SELECT id FROM ${table} ORDER BY md5(id::text || '${random(1_000_000)}') LIMIT 1)`;

/** Source writes on all three tables: new users (with their auth row), a user and their trades deleted in one statement, ticks moved in time. */
const sourceStep = (seen: PerTable): Step => async (c, _table, random, newId) => {
  // A steady rate (at most about 30 writes a second), not as fast as two shared cores allow: a rate limit, not a wait for anything.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const op = random(20);
  if (op === 0) return ['inserts', n(await c.query(`WITH a AS (INSERT INTO auth.users (email) VALUES ('live' || $1 || '@example.com') RETURNING id, email) INSERT INTO public.users (id, email, display_name) SELECT id, email, 'Live ' || $1 FROM a`, [newId()]), seen, 'users')];
  if (op === 1) return ['updates', n(await c.query(`UPDATE public.users SET display_name = display_name || ' +', plan = 'pro' WHERE id = ${pick('public.users', random)}`), seen, 'users')];
  if (op === 2) {
    // Parent and children in one statement: the WAL may carry the user's delete before its trades' (deferred keys on the target).
    const victim = `(SELECT id FROM public.users WHERE email LIKE 'live%' ORDER BY md5(id::text || '${random(1000)}') LIMIT 1)`;
    return ['deletes', n(await c.query(`WITH t AS (DELETE FROM public.trades WHERE user_id = ${victim} RETURNING user_id) DELETE FROM public.users WHERE id = ${victim}`), seen, 'users')];
  }
  if (op < 6) return ['inserts', n(await c.query(`INSERT INTO public.trades (user_id, symbol, side, quantity, entry_price, opened_at, notes) SELECT ${pick('public.users', random)}, 'SOL-USD', 'long', 2.5, 42.42, now(), 'live ''' || $1 || '"'`, [random(1000)]), seen, 'trades')];
  if (op < 8) return ['updates', n(await c.query(`UPDATE public.trades SET exit_price = entry_price + 1, pnl = coalesce(pnl, 0) + 1, notes = coalesce(notes, '') || ' closed' WHERE id = ${pick('public.trades', random)}`), seen, 'trades')];
  if (op < 9) return ['deletes', n(await c.query(`DELETE FROM public.trades WHERE id = ${pick('public.trades', random)}`), seen, 'trades')];
  if (op < 13) return ['inserts', n(await c.query("INSERT INTO public.tick_data (id, symbol, ts, price, volume) VALUES ($1, 'BTC-USD', now() - random() * interval '12 days', 100.25, 0.5)", [newId()]), seen, 'ticks')];
  if (op < 16) return ['updates', n(await c.query(`UPDATE public.tick_data SET price = price + 0.5 WHERE id = ${pick('public.tick_data', random)}`), seen, 'ticks')];
  // On the hypertable target the row changes chunk (some of them compressed).
  if (op < 17) return ['updates', n(await c.query(`UPDATE public.tick_data SET ts = ts - interval '3 days' WHERE id = ${pick('public.tick_data', random)}`), seen, 'ticks')];
  return ['deletes', n(await c.query(`DELETE FROM public.tick_data WHERE id = ${pick('public.tick_data', random)}`), seen, 'ticks')];
};

/** Target writes after cutover: TimescaleDB refuses an UPDATE that moves a row to another chunk, so ticks keep their ts. */
const targetStep = (seen: PerTable): Step => async (c, _table, random, newId) => {
  const op = random(10);
  if (op < 1) return ['updates', n(await c.query(`UPDATE public.users SET display_name = display_name || ' (ts)' WHERE id = ${pick('public.users', random)}`), seen, 'users')];
  if (op < 3) return ['inserts', n(await c.query(`INSERT INTO public.trades (id, user_id, symbol, side, quantity, entry_price, opened_at) SELECT gen_random_uuid(), ${pick('public.users', random)}, 'ETH-USD', 'short', 1, 7.5, now()`), seen, 'trades')];
  if (op < 4) return ['updates', n(await c.query(`UPDATE public.trades SET notes = 'on timescale' WHERE id = ${pick('public.trades', random)}`), seen, 'trades')];
  if (op < 5) return ['deletes', n(await c.query(`DELETE FROM public.trades WHERE id = ${pick('public.trades', random)}`), seen, 'trades')];
  if (op < 7) return ['inserts', n(await c.query("INSERT INTO public.tick_data (id, symbol, ts, price, volume) VALUES ($1, 'ETH-USD', now() - interval '1 hour', 3000.5, 1)", [newId()]), seen, 'ticks')];
  if (op < 9) return ['updates', n(await c.query(`UPDATE public.tick_data SET price = price - 0.25 WHERE id = ${pick('public.tick_data', random)}`), seen, 'ticks')];
  return ['deletes', n(await c.query(`DELETE FROM public.tick_data WHERE id = ${pick('public.tick_data', random)}`), seen, 'ticks')];
};

let ready = false;
let source = '';
let target = '';
let settings: EngineSettings;
let vaultEnv: Record<string, string>;
let dotenv = '';

/** USE_TIMESCALEDB as the vault's own CLI reads it (newest version), and as the live dotenv file says. */
async function readerFlag(): Promise<{ vault: string | undefined; file: string | undefined; versions: number }> {
  const exported = await runRunbook('env', ['export', '--service', SERVICE, '--version', 'latest', '--format', 'json', '--reveal'], { env: vaultEnv });
  expect(exported.code, exported.stderr).toBe(0);
  const list = await runRunbook('env', ['list', '--service', SERVICE, '--json'], { env: vaultEnv });
  expect(list.code, list.stdout).toBe(0);
  const line = fs.readFileSync(dotenv, 'utf8').split('\n').find((l) => l.startsWith('USE_TIMESCALEDB='));
  return { vault: (JSON.parse(exported.stdout) as Record<string, string>).USE_TIMESCALEDB, file: line?.slice('USE_TIMESCALEDB='.length), versions: (list.summary!.versions as unknown[]).length };
}

beforeAll(async () => {
  ready = await requireTimescale(fx.stack.postgresUrl, 'seed 004 change capture (supabase-to-timescale)');
  if (!ready) return;
  source = await createDatabase(fx.stack.postgresUrl, 'sbcdc');
  await buildSupabaseSource(source, { trades: 150, days: 9, perDay: 60 });
  target = await createDatabase(fx.stack.postgresUrl, 'sbcdct');
  // The env vault the backup phase snapshots and the reader switch writes: a private folder and key.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-readers-'));
  dotenv = path.join(dir, 'trading.env');
  fs.writeFileSync(dotenv, 'API_TOKEN=abc123secret\nUSE_TIMESCALEDB=false\nMODE=live\n');
  vaultEnv = { ...fx.env, TICKVAULT_VAULT: `file://${path.join(dir, 'vault')}`, TICKVAULT_ENV_KEY_FILE: path.join(dir, 'vault.key') };
  // In-process runs read the key file and state folder from the process environment, as the CLI does.
  process.env.TICKVAULT_ENV_KEY_FILE = vaultEnv.TICKVAULT_ENV_KEY_FILE;
  process.env.TICKVAULT_HOME = fx.stack.home;
  settings = { ...fx.engine(target, source), backup: { config: new Settings(vaultEnv, {}), envFrom: `dotenv:${dotenv}`, envService: SERVICE } };
});

describe('supabase-to-timescale: one change capture over users, trades and tick_data; readers switch in the env vault', () => {
  it('live writer from backfill to cutover: all three tables equal at the fence; USE_TIMESCALEDB flips; rollback returns target writes to the source and flips it back', { timeout: 120_000 }, async (t) => {
    if (!ready) t.skip();
    const [{ max }] = (await query<{ max: string }>(source, 'SELECT max(id)::text AS max FROM public.tick_data')) as [{ max: string }];
    const onSource = perTable();
    const writer = await new LiveWriter(source, 'public.tick_data', Number(max) + 1, 11, sourceStep(onSource)).start();
    try {
      for (const phase of ['preflight', 'backup', 'expand', 'backfill', 'verify', 'dual-write'] as const) {
        await inProcess((run) => runPlan(run, plan, {}, settings, { phase, all: false }));
        await writer.more(25);
      }
      // Cutover from the CLI, killed (-9) after its work and before its journal end, then run again: the
      // re-run switches nothing twice (no second vault version) and keeps the value from before cutover.
      const cutover = (extra: Record<string, string> = {}) => runRunbook('migrate', ['run', '--plan', plan.id, '--phase', 'cutover', '--source-url', source, '--target-url', target, '--env-from', `dotenv:${dotenv}`, '--env-service', SERVICE, '--json'], { env: { ...vaultEnv, ...extra } });
      const killed = await cutover({ TICKVAULT_TEST_KILL_AT: 'cutover:commit' });
      expect(killed.code, killed.stdout.slice(-2000)).toBe(-1);
      await noSessionsLeft(fx.stack.postgresUrl, target);
      expect((await readerFlag()).versions).toBe(2);
      const again = await cutover();
      expect(again.code, again.stdout.slice(-2000)).toBe(0);
      await writer.more(2, 'fenced');
    } finally {
      await writer.stop();
    }
    expect(onSource.users).toBeGreaterThan(5);
    expect(onSource.trades).toBeGreaterThan(20);
    expect(onSource.ticks).toBeGreaterThan(50);
    expect(writer.counts.deletes).toBeGreaterThan(10);

    // Equal at the fence, table by table, by a hash that shares no code with tickvault.
    const atCutover = await hashes(source);
    expect(await hashes(target)).toEqual(atCutover);
    const [cut] = await query<{ d: { equalAtLsn: string; rows: Record<string, number>; readerSwitch: { versionId: string; previous: string } } }>(target, "SELECT details AS d FROM tickvault.migration_events WHERE plan = $1 AND phase = 'cutover' AND event = 'end'", [plan.id]);
    expect(cut!.d.equalAtLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Object.keys(cut!.d.rows).sort()).toEqual([...TABLES].sort());
    expect(cut!.d.readerSwitch.previous).toBe('false');
    // One slot and one publication over the three tables.
    expect(await query(source, "SELECT p.pubname, count(*)::int AS n FROM pg_publication p JOIN pg_publication_tables t USING (pubname) GROUP BY 1")).toEqual([{ pubname: expect.stringMatching(/^tickvault_/), n: 3 }]);
    expect(await query<{ n: number }>(source, 'SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = current_database()')).toEqual([{ n: 1 }]);
    // The aggregates hold every tick of the fenced state; the trades → users key is validated there.
    expect((await query<{ n: string }>(target, 'SELECT sum(ticks)::text AS n FROM public.tick_ohlcv_1d'))[0]!.n).toBe(atCutover['public.tick_data']!.n);
    expect(await query(target, "SELECT conname, convalidated, condeferrable FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")).toEqual([{ conname: 'trades_user_id_fkey', convalidated: true, condeferrable: true }]);

    // Readers switched: a new sealed version (after the backup's snapshot) and the live file.
    expect(await readerFlag()).toEqual({ vault: 'true', file: 'true', versions: 2 });
    const status = await runRunbook('migrate', ['status', '--plan', plan.id, '--source-url', source, '--target-url', target, '--json'], { env: vaultEnv });
    expect(status.code, status.stdout).toBe(0);
    expect(status.summary!.readers).toMatchObject({ switched: true, key: 'USE_TIMESCALEDB', value: 'true', versionId: cut!.d.readerSwitch.versionId });

    // Readers and writers now use TimescaleDB; rollback must not lose these writes.
    const [{ top }] = (await query<{ top: string }>(target, 'SELECT max(id)::text AS top FROM public.tick_data')) as [{ top: string }];
    const onTarget = perTable();
    const targetWriter = await new LiveWriter(target, 'public.tick_data', Number(top) + 1, 5, targetStep(onTarget)).start();
    await targetWriter.more(120);
    await targetWriter.stop();
    expect(onTarget.users).toBeGreaterThan(0);
    expect(onTarget.trades).toBeGreaterThan(10);
    const targetState = await hashes(target);
    expect(targetState).not.toEqual(atCutover);

    await inProcess((run) => rollbackPlan(run, plan, {}, settings));
    const back = await hashes(source);
    for (const table of TABLES) expect(back[table], table).toEqual(targetState[table]);
    expect(await query(source, 'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()')).toEqual([]);
    expect(await query(source, 'SELECT pubname FROM pg_publication')).toEqual([]);
    expect(await query(source, "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tickvault%'")).toEqual([]);
    // The source takes writes again.
    await query(source, "UPDATE public.trades SET notes = 'writable again' WHERE id = (SELECT id FROM public.trades LIMIT 1)");

    // Readers back: the switch's previous value, as one more version; the backup rollback restored the file as it was.
    expect(await readerFlag()).toEqual({ vault: 'false', file: 'false', versions: 3 });
  });
});
