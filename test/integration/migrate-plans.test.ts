import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import type { EngineSettings } from '../../runbooks/migrations/plan';
import { atgeQuantumBtc } from '../../runbooks/migrations/plans/atge-quantum-btc';
import { dxyDataBars } from '../../runbooks/migrations/plans/dxy-data-bars';
import { marketSnapshotSsot } from '../../runbooks/migrations/plans/market-snapshot-ssot';
import type { AnyPlan as Plan } from '../../runbooks/migrations/plan';
import { withClient } from '../../runbooks/stores/postgres/connect';
import { databaseFingerprint } from '../../runbooks/stores/postgres/fingerprint';
import { createDatabase, query } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { timescaleReady } from '../helpers/timescale';
import { runRunbook } from '../helpers/runbook';

const fx = migrationFixture();
const { stack, env, seeded } = fx;
const engine = (target: string, source = target): EngineSettings => fx.engine(target, source);
const databaseHash = async (url: string): Promise<string> => (await withClient(url, databaseFingerprint)).hash;

describe.each([
  [dxyDataBars.id, dxyDataBars, "SELECT count(*) AS n FROM data_bars WHERE canonical_symbol = 'DXY'"],
  [atgeQuantumBtc.id, atgeQuantumBtc, 'SELECT count(*) AS n FROM btc_trades'],
  [marketSnapshotSsot.id, marketSnapshotSsot, 'SELECT count(*) AS n FROM market_snapshot'],
] as [string, Plan, string][])('plan %s', (_id, plan, probe) => {
  it('runs forward and rolls back from every phase boundary to the pre-migration content hash', async () => {
    const phases = plan.phases.map((p) => p.id);
    for (const [k] of phases.entries()) {
      const url = await seeded();
      const before = await databaseHash(url);
      for (const phase of phases.slice(0, k + 1)) await inProcess((run) => runPlan(run, plan, {}, engine(url), { phase, all: false }));
      if (k >= phases.indexOf('backfill')) {
        const [{ n }] = (await query<{ n: string }>(url, probe)) as [{ n: string }];
        expect(Number(n), `after ${phases[k]}`).toBeGreaterThan(0);
        expect(await databaseHash(url)).not.toBe(before);
      }
      const { rolledBack } = await inProcess((run) => rollbackPlan(run, plan, {}, engine(url)));
      expect(rolledBack).toHaveLength(k + 1);
      expect(await databaseHash(url), `rollback after ${phases[k]}`).toBe(before);
    }
  });
});

describe('dxy-data-bars (seed 003)', () => {
  it('runs end to end from the CLI: journal, no-op re-run, lock, safety window, soft delete, rollback', async () => {
    const url = await seeded();
    const args = ['run', '--plan', 'dxy-data-bars', '--target-url', url, '--json'];
    const first = await runRunbook('migrate', [...args, '--all'], { env });
    // Everything up to cleanup runs; cleanup refuses inside the 24 h window.
    expect(first.code, first.stdout).toBe(4);
    expect(first.events.find((e) => e.event === 'error')?.message).toMatch(/safety window has not elapsed/);
    const status = await runRunbook('migrate', ['status', '--plan', 'dxy-data-bars', '--target-url', url, '--json'], { env });
    const states = Object.fromEntries((status.summary!.phases as { phase: string; state: string }[]).map((p) => [p.phase, p.state]));
    expect(states).toMatchObject({ preflight: 'done', backup: 'done', 'dual-write': 'done', cutover: 'done', cleanup: 'pending' });

    // During the window, writes to the legacy table reach data_bars through the trigger.
    await query(url, "INSERT INTO derived_data_bars (canonical_symbol, timeframe, ts_utc, open, high, low, close, source) VALUES ('DXY', '1m', '2030-01-01T00:00:00Z', 99.5, 99.5, 99.5, 99.5, 'derived')");
    expect(await query(url, "SELECT close::text FROM data_bars WHERE canonical_symbol = 'DXY' AND ts_utc = '2030-01-01T00:00:00Z'")).toEqual([{ close: '99.50000000' }]);
    expect((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM dxy_bars_1m'))[0]!.n).toBe((await query<{ n: string }>(url, "SELECT count(*) AS n FROM data_bars WHERE canonical_symbol = 'DXY'"))[0]!.n);

    // Periodic parity during the window: each check is journaled; a broken mirror fails the watch (exit 3).
    const watch = await runRunbook('migrate', ['watch', '--plan', 'dxy-data-bars', '--target-url', url, '--json', '--checks', '2', '--interval', '200ms'], { env });
    expect(watch.code, watch.stdout).toBe(0);
    expect((await query<{ n: string }>(url, "SELECT count(*) AS n FROM tickvault.migration_events WHERE event = 'check'"))[0]!.n).toBe('2');
    await query(url, "UPDATE data_bars SET close = close + 1 WHERE canonical_symbol = 'DXY' AND ts_utc = '2030-01-01T00:00:00Z'");
    expect((await runRunbook('migrate', ['watch', '--plan', 'dxy-data-bars', '--target-url', url, '--json', '--checks', '1'], { env })).code).toBe(3);
    await query(url, "UPDATE data_bars SET close = close - 1 WHERE canonical_symbol = 'DXY' AND ts_utc = '2030-01-01T00:00:00Z'");

    // Concurrent run of the same plan: exit 4.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const { lockKey } = await import('../../runbooks/migrations/journal');
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [lockKey('dxy-data-bars', '').toString()]);
    const blocked = await runRunbook('migrate', [...args, '--phase', 'cleanup', '--safety-window', '0s'], { env });
    expect(blocked.code).toBe(4);
    expect(blocked.events.find((e) => e.event === 'error')?.code).toBe('TV_LOCK_HELD');
    await holder.end();

    const cleanup = await runRunbook('migrate', [...args, '--phase', 'cleanup', '--safety-window', '0s'], { env });
    expect(cleanup.code, cleanup.stdout).toBe(0);
    expect((await query<{ n: string }>(url, "SELECT count(*) AS n FROM derived_data_bars WHERE canonical_symbol = 'DXY' AND timeframe = '1m' AND deleted_at IS NULL"))[0]!.n).toBe('0');
    const again = await runRunbook('migrate', [...args, '--all', '--safety-window', '0s'], { env });
    expect(again.summary).toMatchObject({ ran: [], skipped: dxyDataBars.phases.map((p) => p.id) });

    await expect(query(url, "UPDATE tickvault.migration_events SET event = 'end'")).rejects.toThrow(/append-only/);
    const refused = await runRunbook('migrate', ['rollback', '--plan', 'dxy-data-bars', '--target-url', url, '--json'], { env });
    expect(refused.code).toBe(4);
    const rollback = await runRunbook('migrate', ['rollback', '--plan', 'dxy-data-bars', '--target-url', url, '--json', '--yes'], { env });
    expect(rollback.code, rollback.stdout).toBe(0);
    expect((await query<{ n: string }>(url, "SELECT count(*) AS n FROM derived_data_bars WHERE canonical_symbol = 'DXY' AND timeframe = '1m' AND deleted_at IS NULL"))[0]!.n).not.toBe('0');
  });

  it('bad input: unknown plan or phase (2), missing tables (2), a phase before its predecessors (4)', async () => {
    expect((await runRunbook('migrate', ['run', '--plan', 'nope', '--all', '--json'], { env })).code).toBe(2);
    const url = await seeded();
    expect((await runRunbook('migrate', ['run', '--plan', 'dxy-data-bars', '--phase', 'nope', '--target-url', url, '--json'], { env })).code).toBe(2);
    expect((await runRunbook('migrate', ['run', '--plan', 'dxy-data-bars', '--phase', 'backfill', '--target-url', url, '--json'], { env })).code).toBe(4);
    const empty = await createDatabase(stack.postgresUrl, 'empty');
    const missing = await runRunbook('migrate', ['run', '--plan', 'dxy-data-bars', '--all', '--target-url', empty, '--json'], { env });
    expect(missing.code).toBe(2);
    expect(missing.events.find((e) => e.event === 'error')?.message).toMatch(/missing table/);
  });
});

describe('cross-database plans', () => {
  it('ticks-to-timescale: hypertable (TimescaleDB) or range-partitioned target, rolls back from every boundary (target and source unchanged)', async () => {
    const { ticksToTimescale } = await import('../../runbooks/migrations/plans/ticks-to-timescale');
    const source = await seeded();
    const sourceHash = await databaseHash(source);
    const timescale = await timescaleReady(stack.postgresUrl);
    for (const [k] of ticksToTimescale.phases.entries()) {
      const target = await createDatabase(stack.postgresUrl, 'ts');
      const before = await databaseHash(target);
      const opts = engine(target, source);
      for (const p of ticksToTimescale.phases.slice(0, k + 1)) await inProcess((run) => runPlan(run, ticksToTimescale, {}, opts, { phase: p.id, all: false }));
      if (k >= 3) expect((await query<{ n: string }>(target, 'SELECT count(*) AS n FROM tick_data'))[0]!.n).toBe((await query<{ n: string }>(source, 'SELECT count(*) AS n FROM tick_data'))[0]!.n);
      if (k >= 2) {
        const layout = timescale ? "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public' AND hypertable_name = 'tick_data'" : "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'public.tick_data'::regclass";
        expect((await query(target, layout)).length).toBe(1);
      }
      await inProcess((run) => rollbackPlan(run, ticksToTimescale, {}, opts));
      expect(await databaseHash(target), `rollback after ${ticksToTimescale.phases[k]!.id}`).toBe(before);
    }
    expect(await databaseHash(source)).toBe(sourceHash);
  });

  it('sqlite-price-log: SQLite and JSON into live_data with parity, files archived, rolls back from every boundary', async () => {
    const { sqlitePriceLog } = await import('../../runbooks/migrations/plans/sqlite-price-log');
    const { writeLegacyPriceSources } = await import('../../runbooks/market-data/legacy-sources');
    for (const [k] of sqlitePriceLog.phases.entries()) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-legacy-'));
      const legacy = await writeLegacyPriceSources(dir, { seed: 5, rows: 1500, end: new Date('2026-01-18T00:00:00Z') });
      const original = fs.readFileSync(legacy.sqlite);
      const target = await seeded();
      const before = await databaseHash(target);
      const opts = { sqlite: legacy.sqlite, jsonDir: legacy.jsonDir };
      for (const p of sqlitePriceLog.phases.slice(0, k + 1)) await inProcess((run) => runPlan(run, sqlitePriceLog, opts, engine(target), { phase: p.id, all: false }));
      if (k >= 3) {
        expect((await query<{ n: string }>(target, 'SELECT count(*) AS n FROM live_data.btc_price_log'))[0]!.n).toBe('1500');
        expect((await query<{ n: string }>(target, 'SELECT count(*) AS n FROM live_data.eth_price_log'))[0]!.n).toBe('1500');
      }
      if (k === sqlitePriceLog.phases.length - 1) expect(fs.existsSync(legacy.sqlite)).toBe(false);
      await inProcess((run) => rollbackPlan(run, sqlitePriceLog, opts, engine(target)));
      expect(await databaseHash(target), `rollback after ${sqlitePriceLog.phases[k]!.id}`).toBe(before);
      expect(fs.readFileSync(legacy.sqlite).equals(original)).toBe(true);
    }
  });

  it('sqlite-price-log: a changed SQLite row breaks parity (exit 3)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-legacy-'));
    const { writeLegacyPriceSources } = await import('../../runbooks/market-data/legacy-sources');
    const legacy = await writeLegacyPriceSources(dir, { seed: 6, rows: 300, end: new Date('2026-01-18T00:00:00Z') });
    const target = await seeded();
    const args = ['run', '--plan', 'sqlite-price-log', '--target-url', target, '--sqlite', legacy.sqlite, '--json-dir', legacy.jsonDir, '--json'];
    for (const phase of ['preflight', 'backup', 'expand', 'backfill']) expect((await runRunbook('migrate', [...args, '--phase', phase], { env })).code).toBe(0);
    const { $ } = await import('zx');
    await $`sqlite3 ${legacy.sqlite} ${'UPDATE btc_price_history SET price = price + 1 WHERE id = 7'}`;
    const verify = await runRunbook('migrate', [...args, '--phase', 'verify'], { env });
    expect(verify.code).toBe(3);
  });
});

describe('copy-table', () => {
  it('rolls back from every phase boundary: the target is as it was, the source untouched', async () => {
    const { copyTable } = await import('../../runbooks/migrations/plans/copy-table');
    const source = await seeded();
    const sourceHash = await databaseHash(source);
    for (const [k] of copyTable.phases.entries()) {
      const target = await createDatabase(stack.postgresUrl, 'ct');
      const before = await databaseHash(target);
      const opts = { table: 'public.trades' };
      for (const p of copyTable.phases.slice(0, k + 1)) await inProcess((run) => runPlan(run, copyTable, opts, engine(target, source), { phase: p.id, all: false }));
      if (k >= 1) expect((await query<{ n: string }>(target, 'SELECT count(*) AS n FROM trades'))[0]!.n).toBe((await query<{ n: string }>(source, 'SELECT count(*) AS n FROM trades'))[0]!.n);
      await inProcess((run) => rollbackPlan(run, copyTable, opts, engine(target, source)));
      expect(await databaseHash(target), `rollback after ${copyTable.phases[k]!.id}`).toBe(before);
    }
    expect(await databaseHash(source)).toBe(sourceHash);
  });
});
