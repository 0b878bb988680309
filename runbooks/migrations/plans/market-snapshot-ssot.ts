import { z } from 'zod';
import { ConfigError, VerificationError } from '../../engine/errors';
import { definePlan, type Phase } from '../plan';
import { backupPhase, countOf, exists } from './shared';
import { refuseValueChanges, type ValueMapping } from './value-survival';
import { replaceView } from './views';

// Seed 000: one market_snapshot row per symbol, written by the scanner
// (here: a trigger on data_bars) and read by every service.
const CREATE = `
CREATE TABLE IF NOT EXISTS public.market_snapshot (
  symbol text PRIMARY KEY,
  price numeric(20,8) NOT NULL,
  change_pct numeric(10,4),
  ts timestamptz NOT NULL,
  source text NOT NULL DEFAULT 'scanner',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS market_snapshot_ts_idx ON public.market_snapshot (ts)`;

const BACKFILL = `
INSERT INTO public.market_snapshot (symbol, price, change_pct, ts, source)
SELECT DISTINCT ON (canonical_symbol) canonical_symbol, close,
       round(((close / nullif(open, 0)) - 1) * 100, 4), ts_utc, 'backfill'
  FROM public.data_bars WHERE timeframe = '1m'
 ORDER BY canonical_symbol, ts_utc DESC
ON CONFLICT (symbol) DO NOTHING`;

const BACKFILL_BTC = `
INSERT INTO public.market_snapshot (symbol, price, ts, source)
SELECT symbol, price, ts, 'backfill' FROM public.tick_data ORDER BY ts DESC LIMIT 1
ON CONFLICT (symbol) DO NOTHING`;

const SCANNER_WRITE = `
CREATE OR REPLACE FUNCTION tickvault.market_snapshot_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.market_snapshot (symbol, price, change_pct, ts, source, updated_at)
  VALUES (NEW.canonical_symbol, NEW.close, round(((NEW.close / nullif(NEW.open, 0)) - 1) * 100, 4), NEW.ts_utc, 'scanner', now())
  ON CONFLICT (symbol) DO UPDATE SET price = EXCLUDED.price, change_pct = EXCLUDED.change_pct, ts = EXCLUDED.ts, source = 'scanner', updated_at = now()
  WHERE public.market_snapshot.ts <= EXCLUDED.ts;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS market_snapshot_write ON public.data_bars;
CREATE TRIGGER market_snapshot_write AFTER INSERT ON public.data_bars
  FOR EACH ROW WHEN (NEW.timeframe = '1m') EXECUTE FUNCTION tickvault.market_snapshot_write()`;

const DROP_SCANNER_WRITE = 'DROP TRIGGER IF EXISTS market_snapshot_write ON public.data_bars; DROP FUNCTION IF EXISTS tickvault.market_snapshot_write()';

// Readers query latest_prices; before cutover it computes from data_bars, after it reads the SSOT table.
const VIEW = 'public.latest_prices';
const VIEW_COMPUTED = `SELECT DISTINCT ON (canonical_symbol) canonical_symbol AS symbol, close AS price, ts_utc AS ts FROM public.data_bars WHERE timeframe = '1m' ORDER BY canonical_symbol, ts_utc DESC`;
const VIEW_SSOT = 'SELECT symbol, price, ts FROM public.market_snapshot';

/** Values that land in market_snapshot's typed columns, for preflight's proof that none changes. */
const VALUE_MAPPINGS: ValueMapping[] = [
  { to: 'market_snapshot.price', type: 'numeric(20,8)', expr: 'close', from: "public.data_bars WHERE timeframe = '1m'" },
  { to: 'market_snapshot.change_pct', type: 'numeric(10,4)', expr: 'round(((close / nullif(open, 0)) - 1) * 100, 4)', from: "public.data_bars WHERE timeframe = '1m'" },
  { to: 'market_snapshot.price', type: 'numeric(20,8)', expr: 'price', from: 'public.tick_data' },
];

type Options = Record<string, never>;

const count = countOf;

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'data_bars and tick_data present; market_snapshot not yet; every value fits',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const { rows } = await ctx.target.query<{ bars: boolean; ticks: boolean; snap: boolean }>("SELECT to_regclass('public.data_bars') IS NOT NULL AS bars, to_regclass('public.tick_data') IS NOT NULL AS ticks, to_regclass('public.market_snapshot') IS NOT NULL AS snap");
      if (!rows[0]!.bars || !rows[0]!.ticks) throw new ConfigError('market-snapshot-ssot needs public.data_bars and public.tick_data');
      if (rows[0]!.snap) throw new ConfigError('public.market_snapshot already exists (a previous attempt not rolled back?)');
      const proof = await refuseValueChanges(ctx.target, VALUE_MAPPINGS);
      return { ...proof, symbols: await count(ctx, "SELECT count(DISTINCT canonical_symbol) AS n FROM data_bars WHERE timeframe = '1m'") };
    },
  },
  backupPhase,
  {
    id: 'expand',
    title: 'create market_snapshot and the latest_prices reader view',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await ctx.target.query(CREATE);
      await replaceView(ctx.target, VIEW, VIEW_COMPUTED);
    },
    async rollback(ctx) {
      await ctx.target.query(`DROP VIEW IF EXISTS ${VIEW}; DROP TABLE IF EXISTS public.market_snapshot`);
    },
  },
  {
    id: 'backfill',
    title: 'one row per symbol from the newest bar (and BTC from the newest tick)',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      const bars = await ctx.target.query(BACKFILL);
      const btc = await ctx.target.query(BACKFILL_BTC);
      const rows = (bars.rowCount ?? 0) + (btc.rowCount ?? 0);
      ctx.progress(rows, rows, 'rows');
      return { rows };
    },
    async rollback(ctx) {
      if (await exists(ctx, 'public.market_snapshot')) await ctx.target.query('TRUNCATE public.market_snapshot');
    },
  },
  {
    id: 'verify',
    title: 'every symbol present with its newest price',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const mismatched = await count(ctx, `SELECT count(*) AS n FROM (SELECT DISTINCT ON (canonical_symbol) canonical_symbol, close, ts_utc FROM data_bars WHERE timeframe = '1m' ORDER BY canonical_symbol, ts_utc DESC) b
        LEFT JOIN market_snapshot s ON s.symbol = b.canonical_symbol WHERE s.symbol IS NULL OR (s.ts = b.ts_utc AND s.price <> b.close) OR s.ts < b.ts_utc`);
      if (mismatched) throw new VerificationError(`${mismatched} symbol(s) missing or stale in market_snapshot`);
      const proof = await refuseValueChanges(ctx.target, VALUE_MAPPINGS);
      return { ...proof, symbols: await count(ctx, 'SELECT count(*) AS n FROM market_snapshot') };
    },
  },
  {
    id: 'dual-write',
    title: 'the scanner path: new 1m bars update market_snapshot',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await ctx.target.query(SCANNER_WRITE);
    },
    async rollback(ctx) {
      await ctx.target.query(DROP_SCANNER_WRITE);
    },
  },
  {
    id: 'cutover',
    title: 'latest_prices reads market_snapshot (view replaced atomically, grants kept)',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await replaceView(ctx.target, VIEW, VIEW_SSOT);
    },
    async rollback(ctx) {
      await replaceView(ctx.target, VIEW, VIEW_COMPUTED);
    },
  },
];

export const marketSnapshotSsot = definePlan<Options>({
  id: 'market-snapshot-ssot',
  title: 'SSOT: market_snapshot written by the scanner, read by everyone',
  source: 'seed 000',
  crossDatabase: false,
  options: z.object({}).strict() as z.ZodType<Options>,
  scope: () => '',
  phases,
  parity: async (ctx) => (await phases.find((p) => p.id === 'verify')!.run(ctx)) ?? {},
});
