import { z } from 'zod';
import { ConfigError, RefusedError, VerificationError } from '../../engine/errors';
import { inTransaction } from '../../engine/transaction';
import { compareTables } from '../../verify/compare';
import { forgetBatches, markDone, planBatches } from '../copy/ledger';
import { definePlan, type Phase, type PhaseContext } from '../plan';
import { BACKFILL_BATCH, CALC_DXY_RANGE_1M, DROP_DUAL_WRITE, DUAL_WRITE, DXY_1M, REGISTRY_UPSERT, VIEW, VIEW_ON_DATA_BARS, VIEW_ON_DERIVED } from './dxy-sql';
import { backupPhase, countOf } from './shared';
import { columnType, refuseValueChanges } from './value-survival';
import { replaceView } from './views';

type Options = Record<string, never>;
type Ctx = PhaseContext<Options>;

const COMPARED = ['canonical_symbol', 'timeframe', 'ts_utc', 'open', 'high', 'low', 'close', 'vol', 'vwap', 'trade_count', 'is_partial'];
const KEY = ['canonical_symbol', 'timeframe', 'ts_utc'];

const count = countOf;

/** DXY 1m in derived_data_bars (active) versus data_bars, by segment hashes. */
async function parity(ctx: Ctx) {
  const result = await compareTables(
    { url: ctx.settings.targetUrl, table: { schema: 'public', name: 'derived_data_bars' }, where: `${DXY_1M} AND deleted_at IS NULL` },
    { url: ctx.settings.targetUrl, table: { schema: 'public', name: 'data_bars' }, where: DXY_1M },
    { key: KEY, columns: COMPARED },
  );
  if (!result.equal) throw new VerificationError(`DXY 1m differs between derived_data_bars and data_bars: ${result.differences.slice(0, 5).map((d) => `${d.key} (${d.kind})`).join(', ')}`);
  return result;
}

const preflight: Phase<Options> = {
  id: 'preflight',
  title: 'connectivity, tables, pre-migration state, every value fits data_bars (seed 003 phase 1)',
  transaction: false,
  idempotent: true,
  async run(ctx) {
    const { rows } = await ctx.target.query<{ t: string }>("SELECT t FROM unnest(ARRAY['data_bars','derived_data_bars','core_asset_registry_all']) t WHERE to_regclass('public.' || t) IS NULL");
    if (rows.length) throw new ConfigError(`missing table(s): ${rows.map((r) => r.t).join(', ')}`);
    const inDataBars = await count(ctx, `SELECT count(*) AS n FROM data_bars WHERE ${DXY_1M}`);
    if (inDataBars > 0) throw new RefusedError(`data_bars already holds ${inDataBars} DXY 1m rows; this plan moves them there and expects none (a previous attempt not rolled back?)`);
    const mappings = [];
    for (const c of ['open', 'high', 'low', 'close', 'vol', 'vwap', 'trade_count']) {
      mappings.push({ to: `data_bars.${c}`, type: await columnType(ctx.target, 'public.data_bars', c), expr: c, from: `public.derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL` });
    }
    const proof = await refuseValueChanges(ctx.target, mappings);
    return {
      ...proof,
      dxy1mInDataBars: inDataBars,
      dxy1mDerivedActive: await count(ctx, `SELECT count(*) AS n FROM derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL`),
      dxy5mDerivedActive: await count(ctx, "SELECT count(*) AS n FROM derived_data_bars WHERE canonical_symbol = 'DXY' AND timeframe = '5m' AND deleted_at IS NULL"),
    };
  },
};

const expand: Phase<Options> = {
  id: 'expand',
  title: 'schema checks and fixes, calc_dxy_range_1m, registry, reader view (phases 2, 3, 5.3)',
  // One transaction: what it records about the prior state and what it changes commit together.
  transaction: true,
  idempotent: true,
  async run(ctx) {
    const t = ctx.target;
    const cols = (await t.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'data_bars'")).rows.map((r) => r.c);
    const constraint = (await t.query<{ def: string }>("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.data_bars'::regclass AND conname = 'data_bars_source_check'")).rows[0]?.def ?? null;
    const hasUnique = ((await t.query("SELECT 1 FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] WHERE x.indrelid = 'public.data_bars'::regclass AND x.indisunique AND a.attname = 'canonical_symbol' AND x.indnatts = 3")).rowCount ?? 0) > 0;
    const registry = (await t.query("SELECT to_jsonb(r) AS row FROM core_asset_registry_all r WHERE canonical_symbol = 'DXY'")).rows[0]?.row ?? null;
    const added = ['raw', 'created_at', 'updated_at'].filter((c) => !cols.includes(c));
    if (!hasUnique) await t.query('CREATE UNIQUE INDEX IF NOT EXISTS data_bars_unique_idx ON data_bars (canonical_symbol, timeframe, ts_utc)');
    await t.query("ALTER TABLE data_bars ADD COLUMN IF NOT EXISTS raw JSONB DEFAULT '{}'::JSONB");
    await t.query('ALTER TABLE data_bars ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ DEFAULT NOW()');
    await t.query('ALTER TABLE data_bars ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ DEFAULT NOW()');
    await t.query('ALTER TABLE data_bars DROP CONSTRAINT IF EXISTS data_bars_source_check');
    await t.query("ALTER TABLE data_bars ADD CONSTRAINT data_bars_source_check CHECK (source IN ('massive_api', 'ingest', 'synthetic'))");
    await t.query(CALC_DXY_RANGE_1M);
    await t.query(REGISTRY_UPSERT);
    await replaceView(t, VIEW, VIEW_ON_DERIVED);
    return { addedColumns: added, priorSourceConstraint: constraint, createdUniqueIndex: !hasUnique, priorRegistryRow: registry };
  },
  async verify(ctx) {
    // The function works on a real window (seed 003 phase 3's smoke test); its rows are discarded.
    return inTransaction(ctx.target, async () => {
      const { rows } = await ctx.target.query<{ r: { success: boolean; error?: string; inserted: number } }>("SELECT calc_dxy_range_1m(max(ts_utc) - interval '1 hour', max(ts_utc) + interval '1 minute') AS r FROM data_bars WHERE timeframe = '1m'");
      const result = rows[0]!.r;
      if (!result.success) throw new VerificationError(`calc_dxy_range_1m failed: ${result.error}`);
      return { functionSmokeTest: result };
    }, { discard: true });
  },
  async rollback(ctx) {
    const r = ctx.recorded('expand');
    const t = ctx.target;
    await t.query(`DROP VIEW IF EXISTS ${VIEW}`);
    await t.query('DROP FUNCTION IF EXISTS public.calc_dxy_range_1m(timestamptz, timestamptz, int)');
    const prior = r.priorRegistryRow as Record<string, unknown> | null;
    if (prior) await t.query('UPDATE core_asset_registry_all SET metadata = $1, updated_at = $2 WHERE canonical_symbol = $3', [prior.metadata, prior.updated_at, 'DXY']);
    else await t.query("DELETE FROM core_asset_registry_all WHERE canonical_symbol = 'DXY'");
    await t.query('ALTER TABLE data_bars DROP CONSTRAINT IF EXISTS data_bars_source_check');
    if (r.priorSourceConstraint) await t.query(`ALTER TABLE data_bars ADD CONSTRAINT data_bars_source_check ${String(r.priorSourceConstraint)}`);
    for (const column of (r.addedColumns as string[] | undefined) ?? ['raw', 'updated_at']) await t.query(`ALTER TABLE data_bars DROP COLUMN IF EXISTS ${column}`);
    if (r.createdUniqueIndex) await t.query('DROP INDEX IF EXISTS data_bars_unique_idx');
  },
};

const backfill: Phase<Options> = {
  id: 'backfill',
  title: 'copy historical DXY 1m into data_bars, set-based, one day per batch (phase 4)',
  // Each day commits with its ledger mark; a re-run resumes at the first pending day.
  transaction: false,
  idempotent: true,
  async run(ctx) {
    const t = ctx.target;
    const { batches } = await planBatches(t, ctx.plan.id, 'public.data_bars', async () => {
      const { rows } = await t.query<{ lo: Date | null; hi: Date | null }>(`SELECT date_trunc('day', min(ts_utc)) AS lo, max(ts_utc) AS hi FROM derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL`);
      const { lo, hi } = rows[0]!;
      if (!lo || !hi) return [];
      const out: { lo: string; hi: string }[] = [];
      for (let d = lo.getTime(); d <= hi.getTime(); d += 86_400_000) out.push({ lo: new Date(d).toISOString(), hi: new Date(d + 86_400_000).toISOString() });
      return out;
    });
    let rows = 0;
    let done = batches.filter((b) => b.state === 'done').length;
    for (const batch of batches.filter((b) => b.state === 'pending')) {
      const started = Date.now();
      rows += await inTransaction(t, async () => {
        const result = await t.query(BACKFILL_BATCH, [batch.lo, batch.hi]);
        await markDone(t, ctx.plan.id, 'public.data_bars', batch.batch, result.rowCount ?? 0, Date.now() - started);
        return result.rowCount ?? 0;
      });
      ctx.progress(++done, batches.length, 'days');
      ctx.checkpoint('batch');
    }
    return { batches: batches.length, rows };
  },
  async verify(ctx) {
    // Seed 003's DO-block check: the same count in both places.
    const source = await count(ctx, `SELECT count(*) AS n FROM derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL`);
    const target = await count(ctx, `SELECT count(*) AS n FROM data_bars WHERE ${DXY_1M}`);
    if (source !== target) throw new VerificationError(`Mismatch: source=${source}, target=${target}`);
    return { verifiedCount: target };
  },
  async rollback(ctx) {
    // Preflight proved data_bars held no DXY 1m before: every such row is ours.
    await ctx.target.query(`DELETE FROM data_bars WHERE ${DXY_1M}`);
    await forgetBatches(ctx.target, ctx.plan.id, 'public.data_bars');
  },
};

const verify: Phase<Options> = {
  id: 'verify',
  title: 'segment hashes derived vs data_bars; DXY within 80-120 (phase 6)',
  transaction: false,
  idempotent: true,
  async run(ctx) {
    const result = await parity(ctx);
    const { rows } = await ctx.target.query<{ min: string; max: string }>(`SELECT min(close)::text AS min, max(close)::text AS max FROM data_bars WHERE ${DXY_1M}`);
    const min = Number(rows[0]!.min);
    const max = Number(rows[0]!.max);
    if (!(min > 80 && max < 120)) throw new VerificationError(`DXY outside 80-120: min ${min}, max ${max}`);
    return { rows: result.sourceRows, min, max };
  },
};

const dualWrite: Phase<Options> = {
  id: 'dual-write',
  title: 'trigger mirrors new DXY 1m from derived_data_bars into data_bars (Option B)',
  transaction: true,
  idempotent: true,
  async run(ctx) {
    await ctx.target.query(DUAL_WRITE);
    return { windowStartedAt: new Date().toISOString() };
  },
  async rollback(ctx) {
    await ctx.target.query(DROP_DUAL_WRITE);
  },
};

const cutover: Phase<Options> = {
  id: 'cutover',
  title: 'readers switch to data_bars (view replaced atomically, grants kept)',
  transaction: true,
  idempotent: true,
  async run(ctx) {
    await replaceView(ctx.target, VIEW, VIEW_ON_DATA_BARS);
  },
  async rollback(ctx) {
    await replaceView(ctx.target, VIEW, VIEW_ON_DERIVED);
  },
};

const cleanup: Phase<Options> = {
  id: 'cleanup',
  title: 'soft-delete legacy DXY 1m after the safety window (phase 9)',
  transaction: true,
  idempotent: true,
  async run(ctx) {
    const t = ctx.target;
    // What rollback needs to undo the soft delete exactly.
    await t.query('CREATE TABLE IF NOT EXISTS tickvault.dxy_cleanup_prior (canonical_symbol text, timeframe text, ts_utc timestamptz, updated_at timestamptz, PRIMARY KEY (canonical_symbol, timeframe, ts_utc))');
    await t.query(`INSERT INTO tickvault.dxy_cleanup_prior SELECT canonical_symbol, timeframe, ts_utc, updated_at FROM derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL ON CONFLICT DO NOTHING`);
    const result = await t.query(`UPDATE derived_data_bars SET deleted_at = NOW(), updated_at = NOW() WHERE ${DXY_1M} AND deleted_at IS NULL`);
    await t.query(DROP_DUAL_WRITE);
    return { softDeleted: result.rowCount };
  },
  async verify(ctx) {
    const active = await count(ctx, `SELECT count(*) AS n FROM derived_data_bars WHERE ${DXY_1M} AND deleted_at IS NULL`);
    if (active !== 0) throw new VerificationError(`${active} legacy DXY 1m rows are still active`);
  },
  async rollback(ctx) {
    const t = ctx.target;
    if (!(await t.query("SELECT to_regclass('tickvault.dxy_cleanup_prior') IS NOT NULL AS ok")).rows[0]?.ok) return;
    await t.query(`UPDATE derived_data_bars d SET deleted_at = NULL, updated_at = p.updated_at
      FROM tickvault.dxy_cleanup_prior p WHERE d.canonical_symbol = p.canonical_symbol AND d.timeframe = p.timeframe AND d.ts_utc = p.ts_utc`);
    await t.query('DROP TABLE tickvault.dxy_cleanup_prior');
    if (ctx.endedAt('dual-write')) await t.query(DUAL_WRITE);
  },
};

export const dxyDataBars = definePlan<Options>({
  id: 'dxy-data-bars',
  title: 'DXY 1m: derived_data_bars → data_bars, dual-write window, soft-delete cleanup',
  source: 'seed 003',
  crossDatabase: false,
  options: z.object({}).strict() as z.ZodType<Options>,
  scope: () => '',
  phases: [preflight, backupPhase, expand, backfill, verify, dualWrite, cutover, cleanup],
  parity: async (ctx) => ({ rows: (await parity(ctx)).sourceRows }),
});
