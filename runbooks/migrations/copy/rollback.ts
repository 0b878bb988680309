import type pg from 'pg';
import { RefusedError } from '../../engine/errors';
import { tableLabel, type TableName } from '../../stores/postgres/sql';
import { dropCreated } from './faithful-schema';
import { forgetBatches, ledgerKey, readSchemaRecord } from './ledger';

/**
 * Undo a faithful copy of `table` into the target: drop exactly what its
 * ledger says it created (the table with its partitions, then the types,
 * sequences, functions and schemas made for it), then forget the ledger.
 * A copy that never created anything drops nothing. Objects that something
 * else on the target now depends on are kept, and the rollback says so.
 */
export async function rollbackCopy(target: pg.ClientBase, plan: string, table: TableName): Promise<{ dropped: string[] }> {
  const key = ledgerKey(table);
  const record = await readSchemaRecord(target, plan, key);
  const { dropped, kept } = record ? await dropCreated(target, record.created as Parameters<typeof dropCreated>[1]) : { dropped: [], kept: [] };
  if (kept.length) throw new RefusedError(`rollback of the copy of ${tableLabel(table)} kept ${kept.map((k) => `${k.kind} ${k.name} (${k.reason})`).join('; ')}`, { dropped, kept });
  await forgetBatches(target, plan, key);
  return { dropped };
}
