import { z } from 'zod';
import { ConfigError, UsageError, VerificationError } from '../../engine/errors';
import { withClient } from '../../stores/postgres/connect';
import { parseTableName, qualify, tableLabel, type TableName } from '../../stores/postgres/sql';
import { compareTables } from '../../verify/compare';
import { captureLagOf, captureParity, cutover, preflightCapture, rollbackCutover, stopCapture, windowSync, withCapture, type CaptureTables } from '../cdc/phases';
import { copyAcross } from '../copy/cross-database';
import { rollbackCopy } from '../copy/rollback';
import { describeTable } from '../copy/table-info';
import { definePlan, type Phase, type PhaseContext } from '../plan';
import { exists } from './shared';

/** --table schema.name: the table to copy; it is also this run's scope. */
const OPTIONS = z.object({ table: z.string({ error: 'is required (schema.name)' }).min(1) }).strict();
type Options = z.infer<typeof OPTIONS>;
type Ctx = PhaseContext<Options>;

const tableOf = (ctx: Ctx): TableName => {
  try {
    return parseTableName(ctx.options.table);
  } catch (error) {
    throw new UsageError(`--table: ${(error as Error).message}`);
  }
};

/** Inheritance children are tables of their own, not copied: compare the parent's own rows (a hypertable's chunks and partitions count as its rows). */
const onlyOf = async (ctx: Ctx, table: TableName): Promise<boolean> => (await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, table), '--source-url')).from.startsWith('ONLY ');

/** The same table on both sides, kept in sync by change capture from backfill to cutover. */
const tables = (ctx: Ctx): CaptureTables => {
  const table = tableOf(ctx);
  return {
    source: table,
    target: table,
    compare: async () => {
      const only = await onlyOf(ctx, table);
      return compareTables({ url: ctx.settings.sourceUrl, table, only }, { url: ctx.settings.targetUrl, table, only });
    },
  };
};

/** Change capture applies updates and deletes by key: a table without a primary key is copied once, without it. */
const captured = (ctx: Ctx): boolean => ((ctx.recorded('preflight').primaryKey as string[] | undefined) ?? []).length > 0;

async function verifyTable(ctx: Ctx) {
  const table = tableOf(ctx);
  const only = await onlyOf(ctx, table);
  const result = await compareTables({ url: ctx.settings.sourceUrl, table, only }, { url: ctx.settings.targetUrl, table, only });
  if (!result.equal) throw new VerificationError(`${tableLabel(table)} differs: ${result.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ')}`, { differences: result.differences });
  return { rows: result.sourceRows, segments: result.buckets };
}

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'source table and target database reachable; logical decoding on the source',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const table = tableOf(ctx);
      const info = await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, table), '--source-url');
      // Without a primary key the copy splits by block ranges and verification compares whole rows as multisets; no change capture.
      const capture = info.primaryKey.length ? await preflightCapture(ctx, table) : { changeCapture: false };
      if (!info.primaryKey.length) ctx.run.warn(`${tableLabel(table)} has no primary key: it is copied once, without change capture (stop writes to it before the copy; cutover is refused)`);
      return { table: tableLabel(table), columns: info.columns.length, estimatedRows: info.estimatedRows, primaryKey: info.primaryKey, ...capture };
    },
  },
  {
    id: 'backfill',
    title: 'change capture starts, then parallel COPY by key ranges, batch ledger, indexes after data',
    // Each batch commits with its ledger row; a re-run copies only what is pending.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const table = tableOf(ctx);
      // Journal, before the copy touches it, that this plan creates the table (the faithful copy refuses one it did not create).
      if (!ctx.recorded('backfill').created && !(await exists(ctx, qualify(table)))) await ctx.note({ created: true });
      const onProgress = (done: number, total: number) => {
        ctx.progress(done, total, 'batches');
        ctx.checkpoint('batch');
      };
      const copy = () => copyAcross({ plan: ctx.plan.id, sourceUrl: ctx.settings.sourceUrl, targetUrl: ctx.settings.targetUrl, source: table, target: table, jobs: ctx.settings.jobs, schema: 'faithful', onProgress });
      // The slot exists before the copy's snapshot: every later change reaches the target in dual-write.
      const { created: createdObjects, ...result } = captured(ctx) ? await withCapture(ctx, tables(ctx), copy) : await copy();
      return { ...result, createdObjects, created: Boolean(ctx.recorded('backfill').created) };
    },
    async rollback(ctx) {
      const table = tableOf(ctx);
      await stopCapture(ctx, { target: table });
      // Only what this copy created, as its ledger recorded it with the DDL (one transaction); nothing when it created nothing.
      if (ctx.recorded('backfill').created) await rollbackCopy(ctx.target, ctx.plan.id, table);
    },
  },
  {
    id: 'verify',
    title: 'captured changes applied, then row counts and segment hashes in both databases',
    transaction: false,
    idempotent: true,
    run: (ctx) => (captured(ctx) ? captureParity(ctx, tables(ctx)) : verifyTable(ctx)),
  },
  {
    id: 'dual-write',
    title: 'window: changes captured from the source applied to the target; parity converges',
    transaction: false,
    idempotent: true,
    run: (ctx) => (captured(ctx) ? windowSync(ctx, tables(ctx)) : verifyTable(ctx)),
  },
  {
    id: 'cutover',
    title: 'fence source writes, drain to the fence LSN, parity there; reverse capture on (run with --phase)',
    explicit: true,
    transaction: false,
    idempotent: true,
    async run(ctx) {
      if (!captured(ctx)) throw new ConfigError(`${tableLabel(tableOf(ctx))} has no primary key: no change capture, so no cutover with a write fence and reverse capture`, { hint: 'add a primary key to the source table, roll back and run again' });
      return cutover(ctx, tables(ctx));
    },
    rollback: (ctx) => rollbackCutover(ctx, tables(ctx)),
  },
  {
    id: 'cleanup',
    title: 'drop the replication slot, publication and reverse capture (the source table stays fenced)',
    explicit: true,
    transaction: false,
    idempotent: true,
    run: (ctx) => stopCapture(ctx, tables(ctx)),
  },
];

export const copyTable = definePlan<Options>({
  id: 'copy-table',
  title: 'copy one table from source to target, keep it in sync by change capture, cut over',
  source: 'generic',
  crossDatabase: true,
  options: OPTIONS,
  scope: (options) => tableLabel(parseTableName(options.table)),
  phases,
  parity: (ctx) => (captured(ctx) ? captureParity(ctx, tables(ctx)) : verifyTable(ctx)),
  lag: (ctx) => captureLagOf(ctx) as Promise<{ bytes: number }>,
});
