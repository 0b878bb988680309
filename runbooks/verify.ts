/**
 * Compare one table across two databases.
 *   npx tsx runbooks/verify.ts --source-url URL --target-url URL --table schema.name [--key col,…] [--json]
 */
import { runCli, stringFlag } from './engine/cli';
import { postgresUrl, validated } from './engine/config';
import { RefusedError, UsageError, VerificationError } from './engine/errors';
import { refuseSameDatabase } from './migrations/same-database';
import { parseTableName, tableLabel } from './stores/postgres/sql';

const usage = `
Usage: npx tsx runbooks/verify.ts --source-url URL --target-url URL --table schema.name [flags]

Counts and order-free hashes per segment (1,024 by key hash) inside each
database; segments that differ are bisected to their rows and the differing
keys (and, for changed rows, columns) reported. Rows hash by column name with
the one row hash of backups and restores (README: "What equal means"); a
column on one side only is a difference.

  --table schema.name          as pg_dump -t: '"Odd Schema"."Order Items"' keeps case and spaces
  --target-url URL             default: --source-url, for a --target-table of another name
  --target-table schema.name   when the name differs on the target
  --key col,…                  key columns (default: the source's primary key; must be unique,
                               else exit 2). No key at all: whole rows compared as multisets.
  --columns col,…              compare only these columns (the key's columns are always hashed too)

A table is never compared with itself: the same table in the same database
(by cluster system identifier and database name, however the URLs are
spelled) is a usage error.
Exit 0 when equal, 3 when different (the keys are in the summary), 2 on bad input.
`;

await runCli({
  runbook: 'verify',
  usage,
  options: { 'source-url': { type: 'string' }, 'target-url': { type: 'string' }, table: { type: 'string' }, 'target-table': { type: 'string' }, key: { type: 'string' }, columns: { type: 'string' } },
  async main({ run, flags, settings }) {
    const sourceUrl = validated('--source-url', postgresUrl, settings.require('DATABASE_URL', stringFlag(flags, 'source-url'), '--source-url'));
    const targetUrl = validated('--target-url', postgresUrl, stringFlag(flags, 'target-url') ?? sourceUrl);
    const tableFlag = stringFlag(flags, 'table');
    if (!tableFlag) throw new UsageError('--table schema.name is required');
    const table = parseTableName(tableFlag);
    const targetTable = parseTableName(stringFlag(flags, 'target-table') ?? tableFlag);
    if (table.schema === targetTable.schema && table.name === targetTable.name) {
      // Nothing would be compared against anything: "equal" would say nothing.
      await run.step('source and target are not the same table', () =>
        refuseSameDatabase(sourceUrl, targetUrl).catch((error: unknown) => {
          if (error instanceof RefusedError) throw new UsageError(`source and target are the same table ${tableLabel(table)} in the same database: nothing to compare`, { hint: 'pass --target-url of another database, or --target-table of another table' });
          throw error;
        }), { readOnly: true });
    }
    const list = (name: string) => stringFlag(flags, name)?.split(',').map((s) => s.trim()).filter(Boolean);
    const { compareTables } = await import('./verify/compare');
    const result = await run.step('compare segments, bisect differences', () => compareTables({ url: sourceUrl, table }, { url: targetUrl, table: targetTable }, { key: list('key'), columns: list('columns') }), { readOnly: true });
    run.report({ ...result });
    for (const c of result.columnDifferences) run.info(c);
    for (const d of result.differences.slice(0, 20)) run.info(`${d.kind.padEnd(18)} ${d.key}${d.columns?.length ? `  columns: ${d.columns.join(', ')}` : ''}`);
    if (!result.equal) {
      const columns = result.columnDifferences.length ? `${result.columnDifferences.join('; ')}; ` : '';
      throw new VerificationError(`${columns}${result.differences.length}${result.truncated ? '+' : ''} differing row(s) in ${result.differingBuckets} segment(s)`);
    }
    run.info(`equal: ${result.sourceRows.toLocaleString('en-US')} rows`);
    return {};
  },
});
