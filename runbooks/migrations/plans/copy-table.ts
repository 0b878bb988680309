import { ConfigError, UsageError, VerificationError } from '../../engine/errors';
import { withClient } from '../../stores/postgres/connect';
import { parseTableName, tableLabel } from '../../stores/postgres/sql';
import { compareTables } from '../../verify/compare';
import { copyAcross } from '../copy/cross-database';
import { rollbackCopy } from '../copy/rollback';
import { describeTable } from '../copy/table-info';
import type { Phase, PhaseContext, Plan } from '../plan';

const tableOf = (ctx: PhaseContext) => {
  if (!ctx.options.table) throw new UsageError('copy-table needs --table schema.name');
  return parseTableName(ctx.options.table);
};

/** Phases other plans reuse to move one table across databases. */
export const copyPhases = {
  preflight: {
    id: 'preflight',
    title: 'source table and target database reachable',
    async run(ctx) {
      const table = tableOf(ctx);
      const info = await withClient(ctx.options.sourceUrl, (c) => describeTable(c, table), '--source-url');
      if (info.primaryKey.length === 0) throw new ConfigError(`${tableLabel(table)} has no primary key; the copy needs one to verify by key`);
      return { table: tableLabel(table), columns: info.columns.length, estimatedRows: info.estimatedRows, primaryKey: info.primaryKey };
    },
  },
  backfill: {
    id: 'backfill',
    title: 'parallel COPY by key ranges, batch ledger, indexes after data',
    async run(ctx) {
      const table = tableOf(ctx);
      const result = await copyAcross({ plan: ctx.plan.id, sourceUrl: ctx.options.sourceUrl, targetUrl: ctx.options.targetUrl, source: table, target: table, jobs: ctx.options.jobs, schema: 'faithful' });
      return { ...result };
    },
    async rollback(ctx) {
      const table = tableOf(ctx);
      await rollbackCopy(ctx.target, ctx.plan.id, table);
    },
  },
  verify: {
    id: 'verify',
    title: 'row counts and segment hashes in both databases',
    async run(ctx) {
      const table = tableOf(ctx);
      const result = await compareTables({ url: ctx.options.sourceUrl, table }, { url: ctx.options.targetUrl, table });
      if (!result.equal) throw new VerificationError(`${tableLabel(table)} differs: ${result.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ')}`, { differences: result.differences });
      return { rows: result.sourceRows, segments: result.buckets };
    },
  },
} satisfies Record<string, Phase>;

export const copyTable: Plan = {
  id: 'copy-table',
  title: 'copy and verify one table from source to target',
  source: 'generic',
  crossDatabase: true,
  phases: [copyPhases.preflight, copyPhases.backfill, copyPhases.verify],
  parity: async (ctx) => (await copyPhases.verify.run(ctx)) ?? {},
};
