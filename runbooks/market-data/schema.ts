/**
 * The tables the generator fills, shaped like the seeds' source systems
 * before their migrations (so the migration plans have real work to do):
 * data_bars lacks `raw`/`updated_at` and its source check lacks 'synthetic'
 * (seed 003 phase 2 adds them); DXY 1m lives in derived_data_bars.
 * Tables are created bare and constrained after the COPY, like pgcopydb.
 */
export const SEED_TABLES = [
  'data_bars',
  'derived_data_bars',
  'core_asset_registry_all',
  'tick_data',
  'users',
  'trades',
  'pattern_cache',
  'ai_signals',
  'atge_trade_signals',
] as const;

export type SeedTable = (typeof SEED_TABLES)[number];

const barColumns = `
  canonical_symbol text NOT NULL,
  timeframe text NOT NULL,
  ts_utc timestamptz NOT NULL,
  open numeric(20,8) NOT NULL,
  high numeric(20,8) NOT NULL,
  low numeric(20,8) NOT NULL,
  close numeric(20,8) NOT NULL,
  vol numeric(24,8) NOT NULL DEFAULT 0,
  vwap numeric(20,8),
  trade_count integer NOT NULL DEFAULT 0,
  is_partial boolean NOT NULL DEFAULT false,
  source text NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now()`;

export const CREATE_TABLES: Record<SeedTable, string> = {
  data_bars: `CREATE TABLE public.data_bars (${barColumns},
  created_at timestamptz DEFAULT now())`,
  derived_data_bars: `CREATE TABLE public.derived_data_bars (${barColumns},
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now(),
  deleted_at timestamptz)`,
  core_asset_registry_all: `CREATE TABLE public.core_asset_registry_all (
  canonical_symbol text NOT NULL,
  asset_class text NOT NULL,
  description text,
  active boolean NOT NULL DEFAULT true,
  test_active boolean NOT NULL DEFAULT false,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now())`,
  tick_data: `CREATE TABLE public.tick_data (
  id bigint NOT NULL,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,
  price numeric(18,2) NOT NULL,
  volume numeric(18,8) NOT NULL,
  side text NOT NULL,
  exchange text NOT NULL)`,
  users: `CREATE TABLE public.users (
  id uuid NOT NULL,
  email text NOT NULL,
  display_name text NOT NULL,
  plan text NOT NULL,
  created_at timestamptz NOT NULL)`,
  trades: `CREATE TABLE public.trades (
  id uuid NOT NULL,
  user_id uuid NOT NULL,
  symbol text NOT NULL,
  side text NOT NULL,
  quantity numeric(18,8) NOT NULL,
  entry_price numeric(18,2) NOT NULL,
  exit_price numeric(18,2),
  opened_at timestamptz NOT NULL,
  closed_at timestamptz,
  pnl numeric(18,2),
  status text NOT NULL,
  notes text)`,
  pattern_cache: `CREATE TABLE public.pattern_cache (
  id bigint NOT NULL,
  symbol text NOT NULL,
  timeframe text NOT NULL,
  pattern_name text NOT NULL,
  detected_at timestamptz NOT NULL,
  confidence numeric(5,4) NOT NULL,
  payload jsonb NOT NULL)`,
  ai_signals: `CREATE TABLE public.ai_signals (
  id bigint NOT NULL,
  symbol text NOT NULL,
  signal text NOT NULL,
  confidence numeric(5,4) NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL,
  payload jsonb NOT NULL)`,
  atge_trade_signals: `CREATE TABLE public.atge_trade_signals (
  id uuid NOT NULL,
  user_id uuid NOT NULL,
  symbol text NOT NULL,
  entry_price numeric(18,2) NOT NULL,
  tp1_price numeric(18,2) NOT NULL,
  tp1_allocation numeric(5,2) NOT NULL,
  tp2_price numeric(18,2) NOT NULL,
  tp2_allocation numeric(5,2) NOT NULL,
  tp3_price numeric(18,2) NOT NULL,
  tp3_allocation numeric(5,2) NOT NULL,
  stop_loss_price numeric(18,2) NOT NULL,
  stop_loss_percentage numeric(6,3) NOT NULL,
  timeframe text NOT NULL,
  timeframe_hours integer NOT NULL,
  confidence_score integer NOT NULL,
  ai_reasoning text,
  status text NOT NULL,
  generated_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL)`,
};

/** Keys and indexes, added after the data is in. */
export const CONSTRAIN_TABLES: Record<SeedTable, string[]> = {
  data_bars: [
    'ALTER TABLE public.data_bars ADD CONSTRAINT data_bars_pkey PRIMARY KEY (canonical_symbol, timeframe, ts_utc)',
    "ALTER TABLE public.data_bars ADD CONSTRAINT data_bars_source_check CHECK (source IN ('massive_api', 'ingest'))",
    'CREATE INDEX data_bars_ts_idx ON public.data_bars (ts_utc)',
  ],
  derived_data_bars: ['ALTER TABLE public.derived_data_bars ADD CONSTRAINT derived_data_bars_pkey PRIMARY KEY (canonical_symbol, timeframe, ts_utc)'],
  core_asset_registry_all: ['ALTER TABLE public.core_asset_registry_all ADD CONSTRAINT core_asset_registry_all_pkey PRIMARY KEY (canonical_symbol)'],
  tick_data: ['ALTER TABLE public.tick_data ADD CONSTRAINT tick_data_pkey PRIMARY KEY (id)', 'CREATE INDEX tick_data_symbol_ts_idx ON public.tick_data (symbol, ts)'],
  users: ['ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id)', 'ALTER TABLE public.users ADD CONSTRAINT users_email_key UNIQUE (email)'],
  trades: [
    'ALTER TABLE public.trades ADD CONSTRAINT trades_pkey PRIMARY KEY (id)',
    'ALTER TABLE public.trades ADD CONSTRAINT trades_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users (id)',
    'CREATE INDEX trades_user_idx ON public.trades (user_id)',
  ],
  pattern_cache: ['ALTER TABLE public.pattern_cache ADD CONSTRAINT pattern_cache_pkey PRIMARY KEY (id)'],
  ai_signals: ['ALTER TABLE public.ai_signals ADD CONSTRAINT ai_signals_pkey PRIMARY KEY (id)'],
  atge_trade_signals: [
    'ALTER TABLE public.atge_trade_signals ADD CONSTRAINT atge_trade_signals_pkey PRIMARY KEY (id)',
    'ALTER TABLE public.atge_trade_signals ADD CONSTRAINT atge_trade_signals_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users (id)',
  ],
};
