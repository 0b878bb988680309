import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import { lockKey } from '../../runbooks/migrations/journal';
import { definePlan } from '../../runbooks/migrations/plan';
import { atgeQuantumBtc } from '../../runbooks/migrations/plans/atge-quantum-btc';
import { valuesThatChange } from '../../runbooks/migrations/plans/value-survival';
import { query } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';

const fx = migrationFixture();
const n = async (url: string, sql: string, params: unknown[] = []) => Number((await query<{ n: string }>(url, sql, params))[0]!.n);
const events = async (url: string, plan: string, scope: string) =>
  query<{ phase: string; event: string; details: Record<string, unknown> }>(url, 'SELECT phase, event, details FROM tickvault.migration_events WHERE plan = $1 AND scope = $2 ORDER BY id', [plan, scope]);

describe('engine-owned transactions and journal', () => {
  const mode = { failExpand: true, failBackfill: false };
  const probe = definePlan<Record<string, never>>({
    id: 'test-probe',
    title: 'probe plan',
    source: 'test',
    crossDatabase: false,
    options: z.object({}).strict() as z.ZodType<Record<string, never>>,
    scope: () => 'probe',
    phases: [
      {
        id: 'expand',
        title: 'creates a table, then (optionally) a SQL error aborts the transaction',
        transaction: true,
        idempotent: true,
        async run(ctx) {
          await ctx.target.query('CREATE TABLE public.probe_t (id int)');
          if (mode.failExpand) await ctx.target.query('SELECT 1 / 0');
        },
        async rollback(ctx) {
          await ctx.target.query('DROP TABLE IF EXISTS public.probe_t');
        },
      },
      {
        id: 'backfill',
        title: 'not transactional, not idempotent',
        transaction: false,
        idempotent: false,
        async run(ctx) {
          await ctx.target.query('INSERT INTO public.probe_t VALUES (1)');
          if (mode.failBackfill) throw new Error('stopped half-way');
        },
        async rollback(ctx) {
          await ctx.target.query('DELETE FROM public.probe_t');
        },
      },
    ],
  });

  it('a failed transactional phase journals fail on a clean connection, leaves nothing, and is not rolled back; end commits with the work', async () => {
    const url = await fx.empty('tx');
    await expect(inProcess((run) => runPlan(run, probe, {}, fx.engine(url), { all: true }))).rejects.toThrow(/division by zero/);
    expect((await events(url, 'test-probe', 'probe')).map((e) => [e.phase, e.event, e.details.changed])).toEqual([['expand', 'start', undefined], ['expand', 'fail', false]]);
    expect(await n(url, "SELECT count(*) AS n FROM pg_class WHERE relname = 'probe_t'")).toBe(0);
    expect((await inProcess((run) => rollbackPlan(run, probe, {}, fx.engine(url)))).rolledBack).toEqual([]);

    mode.failExpand = false;
    mode.failBackfill = true;
    await expect(inProcess((run) => runPlan(run, probe, {}, fx.engine(url), { all: true }))).rejects.toThrow(/stopped half-way/);
    // The journal's end and the phase's table were written by one transaction (same xmin).
    const [end] = await query<{ x: string }>(url, "SELECT xmin::text AS x FROM tickvault.migration_events WHERE phase = 'expand' AND event = 'end'");
    const [table] = await query<{ x: string }>(url, "SELECT xmin::text AS x FROM pg_class WHERE relname = 'probe_t'");
    expect(end!.x).toBe(table!.x);

    // The non-idempotent phase stopped part-way: a re-run is refused with what to do.
    mode.failBackfill = false;
    const refused = inProcess((run) => runPlan(run, probe, {}, fx.engine(url), { all: true }));
    await expect(refused).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/stopped part-way and is not safe to run again/), details: { hint: expect.stringMatching(/migrate rollback --plan test-probe/) } });
    expect((await inProcess((run) => rollbackPlan(run, probe, {}, fx.engine(url)))).rolledBack).toEqual(['backfill', 'expand']);
    expect(await n(url, "SELECT count(*) AS n FROM pg_class WHERE relname = 'probe_t'")).toBe(0);
    expect((await inProcess((run) => runPlan(run, probe, {}, fx.engine(url), { all: true }))).ran).toEqual(['expand', 'backfill']);
    expect(await n(url, 'SELECT count(*) AS n FROM public.probe_t')).toBe(1);
  });
});

describe('copy-table: scope, same-database refusal, rollback of only what it did, progress', () => {
  it('two tables into one target: migrate, status and rollback each independently; locks are per table', async () => {
    const source = await fx.seeded();
    const target = await fx.empty('scope');
    const migrate = (table: string, ...more: string[]) => runRunbook('migrate', [...(more.length ? more : ['run', '--all']), '--plan', 'copy-table', '--table', table, '--source-url', source, '--target-url', target, '--json', '--yes'], { env: fx.env });
    const trades = await migrate('public.trades');
    expect(trades.code, trades.stdout).toBe(0);
    expect(trades.summary).toMatchObject({ scope: 'public.trades', ran: ['preflight', 'backfill', 'verify', 'dual-write'], skipped: [] });
    // Progress through the engine: rows or batches done/total, as NDJSON.
    const progress = trades.events.filter((e) => e.event === 'progress' && String(e.step).startsWith('backfill'));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ done: progress.at(-1)!.total });
    const users = await migrate('public.users');
    expect(users.code, users.stdout).toBe(0);
    expect(users.summary).toMatchObject({ scope: 'public.users', ran: ['preflight', 'backfill', 'verify', 'dual-write'] });
    for (const t of ['trades', 'users']) expect(await n(target, `SELECT count(*) AS n FROM public.${t}`)).toBe(await n(source, `SELECT count(*) AS n FROM public.${t}`));

    const status = async (table: string) => Object.fromEntries(((await migrate(table, 'status')).summary!.phases as { phase: string; state: string }[]).map((p) => [p.phase, p.state]));
    expect(await status('public.users')).toEqual({ preflight: 'done', backfill: 'done', verify: 'done', 'dual-write': 'done', cutover: 'pending', cleanup: 'pending' });
    const back = await migrate('public.trades', 'rollback');
    expect(back.code, back.stdout).toBe(0);
    expect(await n(target, "SELECT count(*) AS n FROM pg_class WHERE relname = 'trades'")).toBe(0);
    expect(await n(target, 'SELECT count(*) AS n FROM public.users')).toBe(await n(source, 'SELECT count(*) AS n FROM public.users'));
    expect(await status('public.trades')).toEqual({ preflight: 'rolled back', backfill: 'rolled back', verify: 'rolled back', 'dual-write': 'rolled back', cutover: 'pending', cleanup: 'pending' });
    expect(await status('public.users')).toEqual({ preflight: 'done', backfill: 'done', verify: 'done', 'dual-write': 'done', cutover: 'pending', cleanup: 'pending' });

    const holder = new pg.Client({ connectionString: target });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [lockKey('copy-table', 'public.trades').toString()]);
      const blocked = await migrate('public.trades');
      expect(blocked.code).toBe(4);
      expect(blocked.events.find((e) => e.event === 'error')?.code).toBe('TV_LOCK_HELD');
      expect((await migrate('public.users')).code).toBe(0);
    } finally {
      await holder.end();
    }
  });

  it('source = target is refused before anything runs, however the URL is spelled', async () => {
    const url = await fx.seeded();
    const alias = new URL(url);
    alias.hostname = alias.hostname === 'localhost' ? '127.0.0.1' : 'localhost';
    const before = await n(url, 'SELECT count(*) AS n FROM public.trades');
    const run = await runRunbook('migrate', ['run', '--all', '--plan', 'copy-table', '--table', 'public.trades', '--source-url', url, '--target-url', alias.toString(), '--json'], { env: fx.env });
    expect(run.code, run.stdout).toBe(4);
    expect(run.events.find((e) => e.event === 'error')?.message).toMatch(/same database/);
    expect(await n(url, "SELECT count(*) AS n FROM pg_class WHERE relname = 'migration_events'")).toBe(0);
    const rollback = await runRunbook('migrate', ['rollback', '--plan', 'copy-table', '--table', 'public.trades', '--source-url', url, '--target-url', alias.toString(), '--json', '--yes'], { env: fx.env });
    expect(rollback.summary).toMatchObject({ rolledBack: [] });
    expect(await n(url, 'SELECT count(*) AS n FROM public.trades')).toBe(before);
  });

  it('a copy refused by a target table that already holds rows is not rolled back: the table and its rows stay', async () => {
    const source = await fx.seeded();
    const target = await fx.seeded();
    await query(target, 'DELETE FROM public.trades WHERE id IN (SELECT id FROM public.trades ORDER BY id LIMIT 3)');
    const before = await n(target, 'SELECT count(*) AS n FROM public.trades');
    const args = ['--plan', 'copy-table', '--table', 'public.trades', '--source-url', source, '--target-url', target, '--json'];
    const run = await runRunbook('migrate', ['run', '--all', ...args], { env: fx.env });
    expect(run.code, run.stdout).toBe(4);
    const rollback = await runRunbook('migrate', ['rollback', '--yes', ...args], { env: fx.env });
    expect(rollback.code, rollback.stdout).toBe(0);
    expect(rollback.summary!.rolledBack).not.toContain('backfill');
    expect(await n(target, 'SELECT count(*) AS n FROM public.trades')).toBe(before);
  });
});

describe('cleanup gate, env snapshot, view replacement, no silent value changes', () => {
  it('gate: window then fresh parity (journaled); cutover swaps the view type atomically and keeps grants; the env snapshot uses env.ts vault settings', async () => {
    const url = await fx.seeded();
    const vaultDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-vault-'));
    const keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tv-key-')), 'vault.key');
    const dotenv = path.join(vaultDir, '..', `${path.basename(vaultDir)}.env`);
    fs.writeFileSync(dotenv, 'API_TOKEN=abc123secret\nMODE=live\n');
    const vaultEnv = { ...fx.env, TICKVAULT_VAULT: `file://${vaultDir}`, TICKVAULT_ENV_KEY_FILE: keyFile };
    const args = ['--plan', 'atge-quantum-btc', '--target-url', url, '--json'];
    for (const phase of ['preflight', 'backup']) {
      const r = await runRunbook('migrate', ['run', '--phase', phase, ...args, '--env-from', `dotenv:${dotenv}`], { env: vaultEnv });
      expect(r.code, r.stdout).toBe(0);
    }
    // The snapshot is where env.ts looks (TICKVAULT_VAULT, its key file), and opens with that key.
    const list = await runRunbook('env', ['list', '--service', 'atge-quantum-btc', '--json'], { env: vaultEnv });
    expect(list.code, list.stdout).toBe(0);
    expect((list.summary!.versions as unknown[]).length).toBe(1);
    expect(fs.existsSync(path.join(fx.repoDir, 'env', 'atge-quantum-btc'))).toBe(false);
    const show = await runRunbook('env', ['show', '--service', 'atge-quantum-btc', '--version', 'latest', '--json'], { env: vaultEnv });
    expect(show.summary!.keys).toEqual(['API_TOKEN', 'MODE']);

    for (const phase of ['expand', 'backfill', 'verify', 'dual-write'] as const) await inProcess((run) => runPlan(run, atgeQuantumBtc, {}, fx.engine(url), { phase, all: false }));
    const role = `tv_reader_${Math.random().toString(16).slice(2, 8)}`;
    await query(url, `CREATE ROLE ${role}`);
    await query(url, `GRANT SELECT ON public.atge_btc_signals_compat TO ${role}`);
    const viewType = () => query<{ t: string }>(url, "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'public.atge_btc_signals_compat'::regclass AND attname = 'entry_price'");
    expect(await viewType()).toEqual([{ t: 'numeric(18,2)' }]);

    // Default window (24h): cutover runs, --all stops before cleanup (exit 0) and says when cleanup is allowed.
    const first = await runRunbook('migrate', ['run', '--all', ...args], { env: fx.env });
    expect(first.code, first.stdout).toBe(0);
    expect(first.summary!.ran).toEqual(['cutover']);
    expect(first.summary!.waiting).toMatchObject({ phase: 'cleanup' });
    expect(await viewType()).toEqual([{ t: 'numeric(20,8)' }]);
    expect(await n(url, `SELECT count(*) AS n FROM (SELECT 1 WHERE has_table_privilege('${role}', 'public.atge_btc_signals_compat', 'SELECT')) x`)).toBe(1);
    // Watch with a zero interval is accepted (durations of 0).
    expect((await runRunbook('migrate', ['watch', ...args, '--interval', '0', '--checks', '2'], { env: fx.env })).code).toBe(0);

    // Window 0 but parity broken: refused, journaled as a failed gate check; nothing archived.
    await query(url, 'UPDATE public.btc_trades SET tp1_allocation = 51 WHERE id = (SELECT id FROM public.btc_trades ORDER BY id LIMIT 1)');
    const broken = await runRunbook('migrate', ['run', '--phase', 'cleanup', '--safety-window', '0', ...args], { env: fx.env });
    expect(broken.code, broken.stdout).toBe(4);
    expect(broken.events.find((e) => e.event === 'error')?.message).toMatch(/parity no longer holds/);
    expect(await n(url, "SELECT count(*) AS n FROM tickvault.migration_events WHERE phase = 'cleanup' AND event = 'check' AND details->>'ok' = 'false'")).toBe(1);
    expect(await n(url, "SELECT count(*) AS n FROM pg_class WHERE relname = 'atge_trade_signals_archive'")).toBe(0);
    // A refused phase never started: nothing of it to roll back.
    expect(await n(url, "SELECT count(*) AS n FROM tickvault.migration_events WHERE phase = 'cleanup' AND event = 'start'")).toBe(0);
    await query(url, 'UPDATE public.btc_trades SET tp1_allocation = 50');
    const cleanup = await runRunbook('migrate', ['run', '--phase', 'cleanup', '--safety-window', '0', ...args], { env: fx.env });
    expect(cleanup.code, cleanup.stdout).toBe(0);
    expect(await n(url, 'SELECT count(*) AS n FROM public.atge_trade_signals_archive')).toBe(await n(url, 'SELECT count(*) AS n FROM public.atge_trade_signals'));
  });

  it('8-decimal ATGE prices arrive exactly; a wrong target type is caught; a widened source column is refused naming column and count', async () => {
    const url = await fx.seeded();
    await query(url, 'ALTER TABLE public.atge_trade_signals ALTER COLUMN entry_price TYPE numeric(20,8)');
    await query(url, "UPDATE public.atge_trade_signals SET entry_price = entry_price + 0.12345678 WHERE symbol = 'BTC'");
    const btc = await n(url, "SELECT count(*) AS n FROM public.atge_trade_signals WHERE symbol = 'BTC'");
    expect(btc).toBeGreaterThan(0);
    // The check catches the seed's wrong numeric(18,2): every BTC price would be rounded.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      expect(await valuesThatChange(client, { to: 'btc_trades.entry_min', type: 'numeric(18,2)', expr: 'entry_price', from: "public.atge_trade_signals WHERE symbol = 'BTC'" })).toBe(btc);
      expect(await valuesThatChange(client, { to: 'btc_trades.entry_min', type: 'numeric(20,8)', expr: 'entry_price', from: "public.atge_trade_signals WHERE symbol = 'BTC'" })).toBe(0);
    } finally {
      await client.end();
    }
    const run = await runRunbook('migrate', ['run', '--all', '--safety-window', '0', '--plan', 'atge-quantum-btc', '--target-url', url, '--json'], { env: fx.env });
    expect(run.code, run.stdout).toBe(0);
    expect(await n(url, 'SELECT count(*) AS n FROM public.btc_trades b JOIN public.atge_trade_signals a USING (id) WHERE b.entry_min::text = a.entry_price::text AND b.entry_optimal::text = a.entry_price::text')).toBe(btc);

    const widened = await fx.seeded();
    await query(widened, 'ALTER TABLE public.atge_trade_signals ALTER COLUMN stop_loss_percentage TYPE numeric(10,5)');
    await query(widened, "UPDATE public.atge_trade_signals SET stop_loss_percentage = stop_loss_percentage + 0.00001 WHERE id IN (SELECT id FROM public.atge_trade_signals WHERE symbol = 'BTC' ORDER BY id LIMIT 3)");
    const refused = await runRunbook('migrate', ['run', '--phase', 'preflight', '--plan', 'atge-quantum-btc', '--target-url', widened, '--json'], { env: fx.env });
    expect(refused.code, refused.stdout).toBe(4);
    expect(refused.events.find((e) => e.event === 'error')?.message).toMatch(/btc_trades\.max_loss_percent numeric\(6,3\): 3 value\(s\)/);
  });

  it('sqlite-price-log: a SQLite value with more decimals than its DECIMAL column is refused at preflight, naming column and count', async () => {
    const { writeLegacyPriceSources } = await import('../../runbooks/market-data/legacy-sources');
    const legacy = await writeLegacyPriceSources(fs.mkdtempSync(path.join(os.tmpdir(), 'tv-legacy-')), { seed: 3, rows: 50, end: new Date('2026-01-18T00:00:00Z') });
    const { $ } = await import('zx');
    await $`sqlite3 ${legacy.sqlite} ${'UPDATE btc_price_history SET momentum = 0.1234567 WHERE id <= 2'}`;
    const target = await fx.empty('sq');
    const run = await runRunbook('migrate', ['run', '--phase', 'preflight', '--plan', 'sqlite-price-log', '--target-url', target, '--sqlite', legacy.sqlite, '--json-dir', legacy.jsonDir, '--json'], { env: fx.env });
    expect(run.code, run.stdout).toBe(4);
    expect(run.events.find((e) => e.event === 'error')?.message).toMatch(/live_data\.btc_price_log\.momentum DECIMAL\(10,6\): 2 value\(s\)/);
  });

  it('bad input: a foreign plan option or a unit-less duration is a usage error (2)', async () => {
    const table = await runRunbook('migrate', ['run', '--all', '--plan', 'atge-quantum-btc', '--table', 'public.x', '--json'], { env: fx.env });
    expect(table.code).toBe(2);
    expect(table.events.find((e) => e.event === 'error')?.message).toMatch(/--table is not an option of this plan/);
    const window = await runRunbook('migrate', ['run', '--all', '--plan', 'atge-quantum-btc', '--safety-window', '5', '--json'], { env: fx.env });
    expect(window.code).toBe(2);
    expect(window.events.find((e) => e.event === 'error')?.message).toMatch(/--safety-window/);
    expect((await runRunbook('migrate', ['run', '--all', '--plan', 'copy-table', '--json'], { env: fx.env })).code).toBe(2);
  });
});
