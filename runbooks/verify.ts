/**
 * Compare one table across two databases.
 *   npx tsx runbooks/verify.ts --source-url URL --target-url URL --table schema.name [--key col,…] [--json]
 */
import { runCli, stringFlag } from './engine/cli';
import { postgresUrl, validated } from './engine/config';
import { UsageError, VerificationError } from './engine/errors';
import { parseTableName } from './stores/postgres/sql';

const usage = `
Usage: npx tsx runbooks/verify.ts --source-url URL --target-url URL --table schema.name [flags]

Counts and order-free hashes per segment (1,024 by key hash) inside each
database; segments that differ are bisected to their rows and the differing
keys reported. Values are normalised (numeric scale, timestamps in UTC) so
equal data hashes equal whatever the column types.

  --target-table schema.name   when the name differs on the target
  --key col,…                  key columns (default: the source's primary key)
  --columns col,…              compare only these columns
Exit 0 when equal, 3 when different (the keys are in the summary).
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
    const list = (name: string) => stringFlag(flags, name)?.split(',').map((s) => s.trim()).filter(Boolean);
    const { compareTables } = await import('./verify/compare');
    const result = await run.step('compare segments, bisect differences', () => compareTables({ url: sourceUrl, table }, { url: targetUrl, table: targetTable }, { key: list('key'), columns: list('columns') }), { readOnly: true });
    run.report({ ...result });
    for (const d of result.differences.slice(0, 20)) run.info(`${d.kind.padEnd(18)} ${d.key}`);
    if (!result.equal) throw new VerificationError(`${result.differences.length}${result.truncated ? '+' : ''} differing row(s) in ${result.differingBuckets} segment(s)`);
    run.info(`equal: ${result.sourceRows.toLocaleString('en-US')} rows`);
    return {};
  },
});
