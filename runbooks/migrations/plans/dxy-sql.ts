// Seed 003's SQL, run and fixed. Fixes to the seed, each found by running it:
// - calc_dxy_range_1m counted skipped timestamps in a second statement that
//   referenced the first statement's CTEs (an error its EXCEPTION block turned
//   into {"success": false}); the counts are now taken in the same statement.
// - the phase-2 unique index duplicated an existing primary key on the same
//   columns; it is created only when no unique index covers them.
// - the rollback's "created_at < NOW() - 24h" un-deleted every old soft-deleted
//   row, not only this cleanup's; rollback now uses the keys cleanup recorded.

export const DXY_1M = "canonical_symbol = 'DXY' AND timeframe = '1m'";

export const CALC_DXY_RANGE_1M = `
CREATE OR REPLACE FUNCTION public.calc_dxy_range_1m(
  p_from_utc timestamptz,
  p_to_utc timestamptz,
  p_derivation_version int DEFAULT 1
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
DECLARE
  v_inserted int := 0;
  v_updated int := 0;
  v_skipped int := 0;
BEGIN
  IF p_from_utc >= p_to_utc THEN
    RAISE EXCEPTION 'Invalid range: from >= to';
  END IF;

  WITH base_timestamps AS (
    SELECT DISTINCT ts_utc FROM data_bars
    WHERE timeframe = '1m' AND ts_utc >= p_from_utc AND ts_utc < p_to_utc
      AND canonical_symbol IN ('EURUSD','USDJPY','GBPUSD','USDCAD','USDSEK','USDCHF')
  ),
  fx_prices AS (
    SELECT b.ts_utc,
      MAX(d.close) FILTER (WHERE d.canonical_symbol='EURUSD') eurusd,
      MAX(d.close) FILTER (WHERE d.canonical_symbol='USDJPY') usdjpy,
      MAX(d.close) FILTER (WHERE d.canonical_symbol='GBPUSD') gbpusd,
      MAX(d.close) FILTER (WHERE d.canonical_symbol='USDCAD') usdcad,
      MAX(d.close) FILTER (WHERE d.canonical_symbol='USDSEK') usdsek,
      MAX(d.close) FILTER (WHERE d.canonical_symbol='USDCHF') usdchf
    FROM base_timestamps b
    JOIN data_bars d ON d.ts_utc = b.ts_utc AND d.timeframe = '1m'
      AND d.canonical_symbol IN ('EURUSD','USDJPY','GBPUSD','USDCAD','USDSEK','USDCHF')
    GROUP BY b.ts_utc
  ),
  valid_tuples AS (
    SELECT * FROM fx_prices
    WHERE eurusd > 0 AND usdjpy > 0 AND gbpusd > 0 AND usdcad > 0 AND usdsek > 0 AND usdchf > 0
  ),
  dxy_bars AS (
    SELECT ts_utc,
      (50.14348112
        * exp(-0.576*ln(eurusd)) * exp(0.136*ln(usdjpy)) * exp(-0.119*ln(gbpusd))
        * exp(0.091*ln(usdcad)) * exp(0.042*ln(usdsek)) * exp(0.036*ln(usdchf)))::DECIMAL(20,8) dxy_price
    FROM valid_tuples
  ),
  upserted AS (
    INSERT INTO data_bars (canonical_symbol, timeframe, ts_utc, open, high, low, close,
      vol, vwap, trade_count, is_partial, source, ingested_at, raw, created_at, updated_at)
    SELECT 'DXY', '1m', ts_utc, dxy_price, dxy_price, dxy_price, dxy_price,
      0, NULL, 0, false, 'synthetic', NOW(),
      jsonb_build_object('kind','dxy', 'version', p_derivation_version), NOW(), NOW()
    FROM dxy_bars
    ON CONFLICT (canonical_symbol, timeframe, ts_utc)
    DO UPDATE SET open=EXCLUDED.open, high=EXCLUDED.high, low=EXCLUDED.low,
      close=EXCLUDED.close, source='synthetic', updated_at=NOW()
    RETURNING (xmax = 0) AS is_insert
  )
  SELECT COUNT(*) FILTER (WHERE is_insert), COUNT(*) FILTER (WHERE NOT is_insert),
         (SELECT COUNT(*) FROM base_timestamps) - (SELECT COUNT(*) FROM valid_tuples)
    INTO v_inserted, v_updated, v_skipped
    FROM upserted;

  RETURN jsonb_build_object('success', true, 'inserted', COALESCE(v_inserted, 0),
    'updated', COALESCE(v_updated, 0), 'skipped', COALESCE(v_skipped, 0), 'version', p_derivation_version);
EXCEPTION WHEN OTHERS THEN
  RETURN jsonb_build_object('success', false, 'error', SQLERRM);
END;
$$`;

/** Phase 4: one batch of historical DXY 1m, [lo, hi) by ts_utc. */
export const BACKFILL_BATCH = `
INSERT INTO data_bars (canonical_symbol, timeframe, ts_utc, open, high, low, close,
  vol, vwap, trade_count, is_partial, source, ingested_at, raw, created_at, updated_at)
SELECT canonical_symbol, timeframe, ts_utc, open, high, low, close,
  vol, vwap, trade_count, is_partial, 'synthetic', ingested_at,
  jsonb_build_object('kind','dxy','migrated_from','derived_data_bars'),
  COALESCE(created_at, ingested_at), NOW()
FROM derived_data_bars
WHERE canonical_symbol = 'DXY' AND timeframe = '1m' AND deleted_at IS NULL
  AND ts_utc >= $1::timestamptz AND ts_utc < $2::timestamptz
ON CONFLICT (canonical_symbol, timeframe, ts_utc)
DO UPDATE SET source = 'synthetic', updated_at = NOW()`;

/** Phase 5.3: the asset-registry upsert. */
export const REGISTRY_UPSERT = `
INSERT INTO core_asset_registry_all (canonical_symbol, asset_class, description, active, test_active, metadata, created_at, updated_at)
VALUES ('DXY', 'currency_index', 'US Dollar Index - 6 FX components', true, true,
  jsonb_build_object('is_synthetic', true, 'base_timeframe', '1m',
    'components', jsonb_build_array('EURUSD','USDJPY','GBPUSD','USDCAD','USDSEK','USDCHF'),
    'derived_timeframes', jsonb_build_array('5m', '1h')),
  NOW(), NOW())
ON CONFLICT (canonical_symbol) DO UPDATE SET metadata = EXCLUDED.metadata, updated_at = NOW()`;

const VIEW_COLUMNS = 'ts_utc, open, high, low, close, vol, vwap, trade_count';
/** Readers use this view; cutover replaces it atomically (column types may differ between the tables). */
export const VIEW = 'public.dxy_bars_1m';
export const VIEW_ON_DERIVED = `SELECT ${VIEW_COLUMNS} FROM public.derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL`;
export const VIEW_ON_DATA_BARS = `SELECT ${VIEW_COLUMNS} FROM public.data_bars WHERE ${DXY_1M}`;

/** pgroll-style dual-write: new DXY 1m rows in derived_data_bars are mirrored into data_bars. */
export const DUAL_WRITE = `
CREATE OR REPLACE FUNCTION tickvault.dxy_dual_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.data_bars (canonical_symbol, timeframe, ts_utc, open, high, low, close, vol, vwap, trade_count,
    is_partial, source, ingested_at, raw, created_at, updated_at)
  VALUES (NEW.canonical_symbol, NEW.timeframe, NEW.ts_utc, NEW.open, NEW.high, NEW.low, NEW.close, NEW.vol, NEW.vwap,
    NEW.trade_count, NEW.is_partial, 'synthetic', NEW.ingested_at, jsonb_build_object('kind','dxy','via','dual-write'), now(), now())
  ON CONFLICT (canonical_symbol, timeframe, ts_utc) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high,
    low = EXCLUDED.low, close = EXCLUDED.close, vol = EXCLUDED.vol, source = 'synthetic', updated_at = now();
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS dxy_dual_write ON public.derived_data_bars;
CREATE TRIGGER dxy_dual_write AFTER INSERT OR UPDATE OF open, high, low, close, vol ON public.derived_data_bars
  FOR EACH ROW WHEN (NEW.canonical_symbol = 'DXY' AND NEW.timeframe = '1m' AND NEW.deleted_at IS NULL)
  EXECUTE FUNCTION tickvault.dxy_dual_write()`;

export const DROP_DUAL_WRITE = 'DROP TRIGGER IF EXISTS dxy_dual_write ON public.derived_data_bars; DROP FUNCTION IF EXISTS tickvault.dxy_dual_write()';
