import { z } from 'zod';
import { UsageError, VerificationError } from '../../engine/errors';
import { withClient } from '../../stores/postgres/connect';
import { parseTableName, qualify, tableLabel, type TableName } from '../../stores/postgres/sql';
import { compareTables } from '../../verify/compare';
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

async function verifyTable(ctx: Ctx) {
  const table = tableOf(ctx);
  // Inheritance children are tables of their own, not copied: compare the parent's own rows (a hypertable's chunks and partitions count as its rows).
  const only = (await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, table), '--source-url')).from.startsWith('ONLY ');
  const result = await compareTables({ url: ctx.settings.sourceUrl, table, only }, { url: ctx.settings.targetUrl, table, only });
  if (!result.equal) throw new VerificationError(`${tableLabel(table)} differs: ${result.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ')}`, { differences: result.differences });
  return { rows: result.sourceRows, segments: result.buckets };
}

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'source table and target database reachable',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const table = tableOf(ctx);
      const info = await withClient(ctx.settings.sourceUrl, (c) => describeTable(c, table), '--source-url');
      // Without a primary key the copy splits by block ranges and verification compares whole rows as multisets.
      return { table: tableLabel(table), columns: info.columns.length, estimatedRows: info.estimatedRows, primaryKey: info.primaryKey };
    },
  },
  {
    id: 'backfill',
    title: 'parallel COPY by key ranges, batch ledger, indexes after data',
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
      const { created: createdObjects, ...result } = await copyAcross({ plan: ctx.plan.id, sourceUrl: ctx.settings.sourceUrl, targetUrl: ctx.settings.targetUrl, source: table, target: table, jobs: ctx.settings.jobs, schema: 'faithful', onProgress });
      return { ...result, createdObjects, created: Boolean(ctx.recorded('backfill').created) };
    },
    async rollback(ctx) {
      const table = tableOf(ctx);
      // Only what this copy created, as its ledger recorded it with the DDL (one transaction); nothing when it created nothing.
      if (ctx.recorded('backfill').created) await rollbackCopy(ctx.target, ctx.plan.id, table);
    },
  },
  { id: 'verify', title: 'row counts and segment hashes in both databases', transaction: false, idempotent: true, run: verifyTable },
];

export const copyTable = definePlan<Options>({
  id: 'copy-table',
  title: 'copy and verify one table from source to target',
  source: 'generic',
  crossDatabase: true,
  options: OPTIONS,
  scope: (options) => tableLabel(parseTableName(options.table)),
  phases,
  parity: verifyTable,
});
