import { inTransaction } from '../../engine/transaction';
import type pg from 'pg';
import { RefusedError } from '../../engine/errors';
import { tableLabel, type TableName } from '../../stores/postgres/sql';
import { found } from './dependencies';
import { forgetBatches, ledgerKey, readSchemaRecord } from './ledger';
import type { CreatedObject, NotCarried } from './schema-types';

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
  const { dropped, kept } = record ? await dropCreated(target, record.created as CreatedObject[]) : { dropped: [], kept: [] };
  if (kept.length) throw new RefusedError(`rollback of the copy of ${tableLabel(table)} kept ${kept.map((k) => `${k.kind} ${k.name} (${k.reason})`).join('; ')}`, { dropped, kept });
  await forgetBatches(target, plan, key);
  return { dropped };
}

/**
 * Drop what a faithful copy created, newest first, never with CASCADE: an
 * object something else on the target has come to depend on stays, and is
 * reported.
 */
async function dropCreated(tgt: pg.ClientBase, created: CreatedObject[]): Promise<{ dropped: string[]; kept: NotCarried[] }> {
  const dropped: string[] = [];
  const kept: NotCarried[] = [];
  for (const obj of [...created].reverse()) {
    const lookup = ({ table: 'to_regclass', sequence: 'to_regclass', function: 'to_regprocedure', type: 'to_regtype', domain: 'to_regtype', collation: 'to_regcollation', schema: 'to_regnamespace' } as const)[obj.kind as 'table'];
    const exists = lookup ? await found(tgt, lookup, obj.sql) : Boolean((await tgt.query('SELECT EXISTS (SELECT 1 FROM pg_extension WHERE quote_ident(extname) = $1) AS ok', [obj.sql])).rows[0]?.ok);
    if (!exists) continue;
    // Inside a caller's transaction a failed DROP must not abort it: the shared helper makes it a savepoint there.
    try {
      await inTransaction(tgt, () => tgt.query(`DROP ${obj.kind.toUpperCase()} ${obj.sql}`));
      dropped.push(`${obj.kind} ${obj.sql}`);
    } catch (error) {
      kept.push({ kind: obj.kind, name: obj.sql, reason: (error as Error).message });
    }
  }
  return { dropped, kept };
}
