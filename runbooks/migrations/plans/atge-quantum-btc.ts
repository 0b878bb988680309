import { z } from 'zod';
import { ConfigError, VerificationError } from '../../engine/errors';
import { definePlan, type Phase } from '../plan';
import { backupPhase, countOf, exists } from './shared';
import { refuseValueChanges, type ValueMapping } from './value-survival';
import { replaceView } from './views';

// Seed 001. Fixes found by running it: its verification counted migrated rows
// with quantum_reasoning LIKE '%Migrated from ATGE%', but quantum_reasoning is
// a direct copy of ai_reasoning (only NULLs get a default), so the count was
// wrong; the migration note goes in mathematical_justification, which is
// what the count reads here. Prices are numeric(20,8) as in ATGE's own
// schema: numeric(18,2) silently rounded them (preflight now proves no value changes).

/** The target types of btc_trades columns that take ATGE values (the DDL is built from them). */
const T = {
  entry_min: 'numeric(20,8)', entry_max: 'numeric(20,8)', entry_optimal: 'numeric(20,8)',
  tp1_price: 'numeric(20,8)', tp2_price: 'numeric(20,8)', tp3_price: 'numeric(20,8)', stop_loss_price: 'numeric(20,8)',
  max_loss_percent: 'numeric(6,3)', timeframe_hours: 'integer', confidence_score: 'integer',
};
const FROM_BTC = "public.atge_trade_signals WHERE symbol = 'BTC'";
const NEW_TABLES = ['btc_trades', 'btc_hourly_snapshots', 'quantum_api_performance', 'quantum_anomaly_logs', 'prediction_accuracy_database', 'quantum_migration_log'];

const CREATE = `
CREATE TABLE IF NOT EXISTS public.btc_trades (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES public.users (id),
  symbol text NOT NULL CHECK (symbol = 'BTC'),
  entry_min ${T.entry_min} NOT NULL, entry_max ${T.entry_max} NOT NULL, entry_optimal ${T.entry_optimal} NOT NULL,
  tp1_price ${T.tp1_price} NOT NULL, tp1_allocation numeric(5,2) NOT NULL,
  tp2_price ${T.tp2_price} NOT NULL, tp2_allocation numeric(5,2) NOT NULL,
  tp3_price ${T.tp3_price} NOT NULL, tp3_allocation numeric(5,2) NOT NULL,
  stop_loss_price ${T.stop_loss_price} NOT NULL, max_loss_percent ${T.max_loss_percent} NOT NULL,
  timeframe text NOT NULL, timeframe_hours ${T.timeframe_hours} NOT NULL, confidence_score ${T.confidence_score} NOT NULL,
  quantum_reasoning text NOT NULL, mathematical_justification text,
  wave_pattern_collapse text NOT NULL DEFAULT 'CONTINUATION',
  data_quality_score integer NOT NULL DEFAULT 90,
  cross_api_proof jsonb NOT NULL DEFAULT '{}', historical_triggers jsonb NOT NULL DEFAULT '[]',
  status text NOT NULL CHECK (status IN ('ACTIVE', 'HIT', 'NOT_HIT', 'EXPIRED')),
  generated_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS btc_trades_user_idx ON public.btc_trades (user_id);
CREATE INDEX IF NOT EXISTS btc_trades_status_idx ON public.btc_trades (status, generated_at);
CREATE TABLE IF NOT EXISTS public.btc_hourly_snapshots (id bigserial PRIMARY KEY, trade_id uuid NOT NULL REFERENCES public.btc_trades (id) ON DELETE CASCADE, price numeric(20,8), taken_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS public.quantum_api_performance (id bigserial PRIMARY KEY, api text NOT NULL, reliability numeric(5,2), measured_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS public.quantum_anomaly_logs (id bigserial PRIMARY KEY, trade_id uuid REFERENCES public.btc_trades (id) ON DELETE CASCADE, severity text, detail jsonb, logged_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS public.prediction_accuracy_database (id bigserial PRIMARY KEY, trade_id uuid REFERENCES public.btc_trades (id) ON DELETE CASCADE, outcome text, deviation numeric, recorded_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS public.quantum_migration_log (id bigserial PRIMARY KEY, migrated_count integer NOT NULL, source_count integer NOT NULL, notes text, created_at timestamptz NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION public.quantum_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
DROP TRIGGER IF EXISTS btc_trades_updated_at ON public.btc_trades;
CREATE TRIGGER btc_trades_updated_at BEFORE UPDATE ON public.btc_trades FOR EACH ROW EXECUTE FUNCTION public.quantum_touch_updated_at()`;

// The mapping tables of seed 001: fields, status, and the 50/30/20 allocations.
const MAPPED = `
  a.id, a.user_id, a.symbol, a.entry_price, a.entry_price, a.entry_price,
  a.tp1_price, 50, a.tp2_price, 30, a.tp3_price, 20,
  a.stop_loss_price, a.stop_loss_percentage, a.timeframe, a.timeframe_hours, a.confidence_score,
  coalesce(a.ai_reasoning, 'No reasoning recorded by ATGE'), 'Migrated from ATGE signal ' || a.id,
  CASE a.status WHEN 'active' THEN 'ACTIVE' WHEN 'completed_success' THEN 'HIT' WHEN 'completed_failure' THEN 'NOT_HIT' WHEN 'expired' THEN 'EXPIRED' ELSE 'ACTIVE' END,
  a.generated_at, a.expires_at`;
const COLUMNS = `id, user_id, symbol, entry_min, entry_max, entry_optimal, tp1_price, tp1_allocation, tp2_price, tp2_allocation, tp3_price, tp3_allocation,
  stop_loss_price, max_loss_percent, timeframe, timeframe_hours, confidence_score, quantum_reasoning, mathematical_justification, status, generated_at, expires_at`;

const DUAL_WRITE = `
CREATE OR REPLACE FUNCTION tickvault.atge_dual_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.btc_trades (${COLUMNS}) SELECT ${MAPPED} FROM (SELECT NEW.*) a
  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, tp1_price = EXCLUDED.tp1_price, tp2_price = EXCLUDED.tp2_price,
    tp3_price = EXCLUDED.tp3_price, stop_loss_price = EXCLUDED.stop_loss_price, expires_at = EXCLUDED.expires_at;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS atge_dual_write ON public.atge_trade_signals;
CREATE TRIGGER atge_dual_write AFTER INSERT OR UPDATE ON public.atge_trade_signals
  FOR EACH ROW WHEN (NEW.symbol = 'BTC') EXECUTE FUNCTION tickvault.atge_dual_write()`;

// Old queries keep working through the compatibility view; cutover repoints it.
const COMPAT = 'public.atge_btc_signals_compat';
const COMPAT_ON_ATGE = `SELECT id, user_id, symbol, entry_price, stop_loss_price, stop_loss_percentage, confidence_score, ai_reasoning, status, generated_at, expires_at
    FROM public.atge_trade_signals WHERE symbol = 'BTC'`;
const COMPAT_ON_BTC = `SELECT id, user_id, symbol, entry_optimal AS entry_price, stop_loss_price, max_loss_percent AS stop_loss_percentage, confidence_score,
         quantum_reasoning AS ai_reasoning,
         CASE status WHEN 'ACTIVE' THEN 'active' WHEN 'HIT' THEN 'completed_success' WHEN 'NOT_HIT' THEN 'completed_failure' ELSE 'expired' END AS status,
         generated_at, expires_at
    FROM public.btc_trades`;

const count = countOf;

/** Where each ATGE value lands, for preflight's proof that none changes. */
export const ATGE_VALUE_MAPPINGS: ValueMapping[] = [
  ...(['entry_min', 'entry_max', 'entry_optimal'] as const).map((c) => ({ to: `btc_trades.${c}`, type: T[c], expr: 'entry_price', from: FROM_BTC })),
  ...(['tp1_price', 'tp2_price', 'tp3_price', 'stop_loss_price', 'timeframe_hours', 'confidence_score'] as const).map((c) => ({ to: `btc_trades.${c}`, type: T[c], expr: c, from: FROM_BTC })),
  { to: 'btc_trades.max_loss_percent', type: T.max_loss_percent, expr: 'stop_loss_percentage', from: FROM_BTC },
];


type Options = Record<string, never>;

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'ATGE signals and users present, foreign keys sound, no Quantum tables yet, every value fits its new column',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const missing = (await ctx.target.query<{ t: string }>("SELECT t FROM unnest(ARRAY['atge_trade_signals','users']) t WHERE to_regclass('public.' || t) IS NULL")).rows;
      if (missing.length) throw new ConfigError(`missing table(s): ${missing.map((r) => r.t).join(', ')}`);
      for (const t of [...NEW_TABLES, 'atge_trade_signals_archive']) if (await exists(ctx, `public.${t}`)) throw new ConfigError(`public.${t} already exists (a previous attempt not rolled back?)`);
      const orphans = await count(ctx, 'SELECT count(*) AS n FROM atge_trade_signals a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)');
      if (orphans) throw new VerificationError(`${orphans} ATGE signals reference missing users (seed 001 troubleshooting: fix them first)`);
      const duplicates = await count(ctx, "SELECT count(*) AS n FROM (SELECT id FROM atge_trade_signals WHERE symbol = 'BTC' GROUP BY id HAVING count(*) > 1) d");
      if (duplicates) throw new VerificationError(`${duplicates} duplicate BTC signal ids`);
      const proof = await refuseValueChanges(ctx.target, ATGE_VALUE_MAPPINGS);
      return { btcSignals: await count(ctx, `SELECT count(*) AS n FROM ${FROM_BTC}`), ...proof };
    },
  },
  backupPhase,
  {
    id: 'expand',
    title: 'six Quantum BTC tables, indexes, updated_at trigger, compatibility view',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await ctx.target.query(CREATE);
      await replaceView(ctx.target, COMPAT, COMPAT_ON_ATGE);
    },
    async rollback(ctx) {
      // Seed 001's rollback: drop the new tables, the view and the trigger functions; ATGE data is untouched.
      await ctx.target.query(`DROP VIEW IF EXISTS ${COMPAT}; DROP TABLE IF EXISTS ${NEW_TABLES.map((t) => `public.${t}`).join(', ')} CASCADE; DROP FUNCTION IF EXISTS public.quantum_touch_updated_at()`);
    },
  },
  {
    id: 'backfill',
    title: 'map every BTC signal (fields, status, 50/30/20) and log the migration',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      const source = await count(ctx, `SELECT count(*) AS n FROM ${FROM_BTC}`);
      const inserted = await ctx.target.query(`INSERT INTO public.btc_trades (${COLUMNS}) SELECT ${MAPPED} FROM public.atge_trade_signals a WHERE a.symbol = 'BTC' ON CONFLICT (id) DO NOTHING`);
      ctx.progress(source, source, 'rows');
      // Ids from max(id): a crashed attempt's consumed sequence values leave no gap.
      await ctx.target.query("SELECT setval(pg_get_serial_sequence('public.quantum_migration_log', 'id'), coalesce(max(id), 0) + 1, false) FROM public.quantum_migration_log");
      await ctx.target.query("INSERT INTO public.quantum_migration_log (migrated_count, source_count, notes) VALUES ($1, $2, 'ATGE → Quantum BTC by tickvault')", [inserted.rowCount, source]);
      return { migrated: inserted.rowCount };
    },
    async rollback(ctx) {
      if (await exists(ctx, 'public.btc_trades')) await ctx.target.query('TRUNCATE public.btc_trades, public.quantum_migration_log CASCADE');
    },
  },
  {
    id: 'verify',
    title: "seed 001's checks: counts, status mapping, allocations, exact prices",
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const atge = await count(ctx, `SELECT count(*) AS n FROM ${FROM_BTC}`);
      const btc = await count(ctx, 'SELECT count(*) AS n FROM btc_trades');
      const migrated = await count(ctx, "SELECT count(*) AS n FROM btc_trades WHERE mathematical_justification LIKE 'Migrated from ATGE%'");
      if (atge !== btc || btc !== migrated) throw new VerificationError(`counts differ: atge ${atge}, btc_trades ${btc}, migrated ${migrated}`);
      const wrongStatus = await count(ctx, `SELECT count(*) AS n FROM atge_trade_signals a JOIN btc_trades b USING (id) WHERE b.status <> CASE a.status WHEN 'active' THEN 'ACTIVE' WHEN 'completed_success' THEN 'HIT' WHEN 'completed_failure' THEN 'NOT_HIT' WHEN 'expired' THEN 'EXPIRED' ELSE 'ACTIVE' END`);
      const wrongAllocation = await count(ctx, 'SELECT count(*) AS n FROM btc_trades WHERE (tp1_allocation, tp2_allocation, tp3_allocation) <> (50, 30, 20)');
      const changedPrice = await count(ctx, 'SELECT count(*) AS n FROM atge_trade_signals a JOIN btc_trades b USING (id) WHERE (b.entry_optimal, b.tp1_price, b.tp2_price, b.tp3_price, b.stop_loss_price) IS DISTINCT FROM (a.entry_price, a.tp1_price, a.tp2_price, a.tp3_price, a.stop_loss_price)');
      if (wrongStatus || wrongAllocation || changedPrice) throw new VerificationError(`${wrongStatus} wrong statuses, ${wrongAllocation} wrong allocations, ${changedPrice} changed prices`);
      const distribution = (await ctx.target.query('SELECT status, count(*)::int AS n FROM btc_trades GROUP BY 1 ORDER BY 1')).rows;
      return { rows: btc, statusDistribution: distribution };
    },
  },
  {
    id: 'dual-write',
    title: 'new and updated ATGE BTC signals are mirrored into btc_trades',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await ctx.target.query(DUAL_WRITE);
    },
    async rollback(ctx) {
      await ctx.target.query('DROP TRIGGER IF EXISTS atge_dual_write ON public.atge_trade_signals; DROP FUNCTION IF EXISTS tickvault.atge_dual_write()');
    },
  },
  {
    id: 'cutover',
    title: 'compatibility view reads btc_trades (replaced atomically, grants kept)',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await replaceView(ctx.target, COMPAT, COMPAT_ON_BTC);
    },
    async rollback(ctx) {
      await replaceView(ctx.target, COMPAT, COMPAT_ON_ATGE);
    },
  },
  {
    id: 'cleanup',
    title: 'archive ATGE signals (seed 001 phase 5.1); the originals stay',
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await ctx.target.query('CREATE TABLE IF NOT EXISTS public.atge_trade_signals_archive AS SELECT * FROM public.atge_trade_signals');
      const archived = await count(ctx, 'SELECT count(*) AS n FROM atge_trade_signals_archive');
      const source = await count(ctx, 'SELECT count(*) AS n FROM atge_trade_signals');
      if (archived !== source) throw new VerificationError(`archive holds ${archived} of ${source} signals`);
      return { archived };
    },
    async rollback(ctx) {
      await ctx.target.query('DROP TABLE IF EXISTS public.atge_trade_signals_archive');
    },
  },
];

export const atgeQuantumBtc = definePlan<Options>({
  id: 'atge-quantum-btc',
  title: 'ATGE → Quantum BTC: mapping, compatibility view, migration log',
  source: 'seed 001',
  crossDatabase: false,
  options: z.object({}).strict() as z.ZodType<Options>,
  scope: () => '',
  phases,
  parity: async (ctx) => (await phases.find((p) => p.id === 'verify')!.run(ctx)) ?? {},
});
