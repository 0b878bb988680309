import { z } from 'zod';
import { VerificationError } from '../../engine/errors';
import { withClient } from '../../stores/postgres/connect';
import { canCreateTimescale } from '../../stores/postgres/timescale';
import { compareTables } from '../../verify/compare';
import { copyAcross } from '../copy/cross-database';
import { forgetBatches } from '../copy/ledger';
import { createTableSql, describeTable } from '../copy/table-info';
import { captureLagOf, captureParity, cutover, preflightCapture, rollbackCutover, stopCapture, windowSync, withCapture, type CaptureTables } from '../cdc/phases';
import { definePlan, type Phase, type PhaseContext } from '../plan';
import { switchReaders, switchReadersBack, TIMESCALE_READERS } from '../reader-switch';
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

/** tick_data on both sides, matched by the source's key (id); the target's key is (id, ts). */
const tables = (ctx: Ctx): CaptureTables => ({
  source: TICKS,
  target: TICKS,
  compare: () => compareTables({ url: ctx.settings.sourceUrl, table: TICKS }, { url: ctx.settings.targetUrl, table: TICKS }, { key: ['id'] }),
});

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'source tick_data, target reachable, TimescaleDB or native partitioning',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const info = await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, TICKS), '--source-url');
      if (await exists(ctx, 'public.tick_data')) throw new VerificationError('the target already has public.tick_data (a previous attempt not rolled back?)');
      return { estimatedRows: info.estimatedRows, timescaledb: await timescaleOnTarget(ctx), ...(await preflightCapture(ctx, TICKS)) };
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
    title: 'change capture starts, then a chunked parallel import with a batch ledger (resumable)',
    // Each batch commits with its ledger row; a re-run copies only what is pending.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      // The partition key must be part of the primary key on the target.
      const onProgress = (done: number, total: number) => {
        ctx.progress(done, total, 'batches');
        ctx.checkpoint('batch');
      };
      // The slot exists before the import's snapshot: every later change reaches the target in dual-write.
      return { ...(await withCapture(ctx, tables(ctx), () => copyAcross({ plan: ctx.plan.id, sourceUrl: ctx.settings.sourceUrl, targetUrl: ctx.settings.targetUrl, source: TICKS, target: TICKS, jobs: ctx.settings.jobs, primaryKey: ['id', 'ts'], onProgress }))) };
    },
    async rollback(ctx) {
      await stopCapture(ctx, tables(ctx));
      await forgetBatches(ctx.target, ctx.plan.id, 'public.tick_data');
      if (await exists(ctx, 'public.tick_data')) await ctx.target.query('TRUNCATE public.tick_data');
    },
  },
  { id: 'verify', title: 'captured changes applied, then counts and segment hashes, source vs target', transaction: false, idempotent: true, run: (ctx) => captureParity(ctx, tables(ctx)) },
  {
    id: 'dual-write',
    title: 'window: inserts, updates and deletes captured on the source applied to the hypertable; parity converges',
    transaction: false,
    idempotent: true,
    run: (ctx) => windowSync(ctx, tables(ctx)),
  },
  {
    id: 'cutover',
    title: 'fence source writes, drain to the fence LSN, parity there; reverse capture on; readers switch (USE_TIMESCALEDB=true in the env vault)',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const capture = await cutover(ctx, tables(ctx));
      const afterCapture = Date.now();
      const switched = await switchReaders(ctx, TIMESCALE_READERS.key, TIMESCALE_READERS.value);
      return { ...capture, ...switched, pauseUntilReadersMs: Number(capture.writePauseMs) + (Date.now() - afterCapture), readersSwitchedAt: new Date().toISOString() };
    },
    // Readers go back first, so writes stop reaching the target before its log is replayed onto the source.
    async rollback(ctx) {
      await switchReadersBack(ctx);
      await rollbackCutover(ctx, tables(ctx));
    },
  },
  {
    id: 'cleanup',
    title: 'drop the replication slot, publication and reverse capture (source tick_data stays fenced, read-only)',
    transaction: false,
    idempotent: true,
    run: (ctx) => stopCapture(ctx, tables(ctx)),
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
  parity: (ctx) => captureParity(ctx, tables(ctx)),
  lag: (ctx) => captureLagOf(ctx) as Promise<{ bytes: number }>,
});
