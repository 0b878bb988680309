import { z } from 'zod';
import { VerificationError } from '../../engine/errors';
import { withClient } from '../../stores/postgres/connect';
import { canCreateTimescale } from '../../stores/postgres/timescale';
import { compareTables } from '../../verify/compare';
import { copyAcross } from '../copy/cross-database';
import { forgetBatches } from '../copy/ledger';
import { createTableSql, describeTable } from '../copy/table-info';
import { definePlan, type Phase, type PhaseContext } from '../plan';
import { backupOf, exists } from './shared';

type Options = Record<string, never>;
type Ctx = PhaseContext<Options>;

// Seed 004: Supabase tick_data → TimescaleDB. A hypertable when the target
// has TimescaleDB, native monthly range partitions otherwise; a chunked,
// resumable import; parity checked by segment hashes.
const TICKS = { schema: 'public', name: 'tick_data' };

/** TimescaleDB can be created on the target: installed and preloaded (CREATE EXTENSION refuses otherwise). */
async function timescaleOnTarget(ctx: Ctx): Promise<boolean> {
  return canCreateTimescale(ctx.target);
}

async function parity(ctx: Ctx) {
  const result = await compareTables({ url: ctx.settings.sourceUrl, table: TICKS }, { url: ctx.settings.targetUrl, table: TICKS }, { key: ['id'] });
  if (!result.equal) throw new VerificationError(`tick_data differs between source and target: ${result.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ')}`, { differences: result.differences });
  return { rows: result.sourceRows };
}

/** Append source rows newer than the target's newest id (ticks are insert-only). */
async function catchUp(ctx: Ctx): Promise<number> {
  const { rows } = await ctx.target.query<{ max: string | null }>('SELECT max(id)::text AS max FROM public.tick_data');
  const after = rows[0]?.max ?? '0';
  const fresh = await withClient(ctx.settings.sourceUrl, (c) => c.query('SELECT id, symbol, ts, price, volume, side, exchange FROM public.tick_data WHERE id > $1 ORDER BY id LIMIT 100000', [after]), '--source-url');
  for (const r of fresh.rows) {
    await ctx.target.query('INSERT INTO public.tick_data (id, symbol, ts, price, volume, side, exchange) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING', [r.id, r.symbol, r.ts, r.price, r.volume, r.side, r.exchange]);
  }
  return fresh.rowCount ?? 0;
}

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'source tick_data, target reachable, TimescaleDB or native partitioning',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const info = await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, TICKS), '--source-url');
      if (await exists(ctx, 'public.tick_data')) throw new VerificationError('the target already has public.tick_data (a previous attempt not rolled back?)');
      return { estimatedRows: info.estimatedRows, timescaledb: await timescaleOnTarget(ctx) };
    },
  },
  backupOf('source'),
  {
    id: 'expand',
    title: 'hypertable (TimescaleDB) or monthly range partitions on ts',
    // One transaction: a failure or a crash leaves no half-built partition set behind.
    transaction: true,
    idempotent: true,
    async run(ctx) {
      const info = await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, TICKS), '--source-url');
      const { rows } = await withClient(ctx.settings.sourceUrl, (c) => c.query<{ lo: Date; hi: Date }>("SELECT date_trunc('month', min(ts)) AS lo, max(ts) AS hi FROM public.tick_data"));
      const base = createTableSql(info, TICKS);
      if (ctx.recorded('preflight').timescaledb) {
        await ctx.target.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
        await ctx.target.query(base);
        await ctx.target.query("SELECT create_hypertable('public.tick_data', 'ts', chunk_time_interval => interval '1 day')");
        return { layout: 'hypertable' };
      }
      await ctx.target.query(`${base} PARTITION BY RANGE (ts)`);
      let partitions = 0;
      const lo = rows[0]?.lo ?? new Date();
      const hi = rows[0]?.hi ?? new Date();
      for (let d = new Date(lo); d <= hi; d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))) {
        const next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
        const name = `tick_data_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
        await ctx.target.query(`CREATE TABLE IF NOT EXISTS public.${name} PARTITION OF public.tick_data FOR VALUES FROM ('${d.toISOString()}') TO ('${next.toISOString()}')`);
        partitions++;
      }
      await ctx.target.query('CREATE TABLE IF NOT EXISTS public.tick_data_default PARTITION OF public.tick_data DEFAULT');
      return { layout: 'range-partitioned', partitions };
    },
    async rollback(ctx) {
      await ctx.target.query('DROP TABLE IF EXISTS public.tick_data CASCADE');
    },
  },
  {
    id: 'backfill',
    title: 'chunked parallel import with a batch ledger (resumable)',
    // Each batch commits with its ledger row; a re-run copies only what is pending.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      // The partition key must be part of the primary key on the target.
      const onProgress = (done: number, total: number) => {
        ctx.progress(done, total, 'batches');
        ctx.checkpoint('batch');
      };
      return { ...(await copyAcross({ plan: ctx.plan.id, sourceUrl: ctx.settings.sourceUrl, targetUrl: ctx.settings.targetUrl, source: TICKS, target: TICKS, jobs: ctx.settings.jobs, primaryKey: ['id', 'ts'], onProgress })) };
    },
    async rollback(ctx) {
      await forgetBatches(ctx.target, ctx.plan.id, 'public.tick_data');
      if (await exists(ctx, 'public.tick_data')) await ctx.target.query('TRUNCATE public.tick_data');
    },
  },
  { id: 'verify', title: 'counts and segment hashes, source vs target', transaction: false, idempotent: true, run: parity },
  {
    id: 'dual-write',
    title: 'window opens: catch up new source ticks, re-check parity (re-run cutover to repeat)',
    // Parity reads the target on its own connections: the catch-up must be committed first.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const caughtUp = await catchUp(ctx);
      return { caughtUp, ...(await parity(ctx)), windowStartedAt: new Date().toISOString() };
    },
  },
  {
    id: 'cutover',
    title: 'final catch-up and parity; readers switch to the target (USE_TIMESCALEDB=true)',
    // Parity reads the target on its own connections: the catch-up must be committed first.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const caughtUp = await catchUp(ctx);
      return { caughtUp, ...(await parity(ctx)), readersSwitchedAt: new Date().toISOString() };
    },
  },
];

export const ticksToTimescale = definePlan<Options>({
  id: 'ticks-to-timescale',
  title: 'tick_data → TimescaleDB hypertable (or native range partitions), verified',
  source: 'seed 004',
  crossDatabase: true,
  options: z.object({}).strict() as z.ZodType<Options>,
  scope: () => 'public.tick_data',
  phases,
  parity: async (ctx) => ({ caughtUp: await catchUp(ctx), ...(await parity(ctx)) }),
});
