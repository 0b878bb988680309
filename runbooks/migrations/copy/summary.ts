import { withClient } from '../../stores/postgres/connect';
import { parseTableName } from '../../stores/postgres/sql';
import { ledgerKey, readSchemaRecord } from './ledger';

/**
 * What a faithful copy of `table` by `plan` left out and created, from its
 * ledger on the target, for the run's summary. Undefined when no copy of
 * that table has recorded anything.
 */
export async function copySummary(targetUrl: string, plan: string, table: string): Promise<{ notCarried: unknown[]; created: string[] } | undefined> {
  const name = parseTableName(table);
  const record = await withClient(targetUrl, (c) => readSchemaRecord(c, plan, ledgerKey(name)), '--target-url');
  if (!record) return undefined;
  const failed = record.optional.filter((o) => o.state === 'not carried').map((o) => ({ kind: o.kind, name: o.name, reason: o.reason ?? 'failed' }));
  return { notCarried: [...record.notCarried, ...failed], created: record.created.map((c) => `${c.kind} ${c.sql}`) };
}
