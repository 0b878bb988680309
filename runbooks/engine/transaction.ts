import type pg from 'pg';

// Open transactions per client, so a nested call becomes a savepoint instead of a second BEGIN.
const depth = new WeakMap<pg.ClientBase, number>();

export interface TransactionOptions {
  /** Always roll back (a smoke test whose effects must not stay). */
  discard?: boolean;
  /** BEGIN TRANSACTION READ ONLY (the server refuses any write). */
  readOnly?: boolean;
}

/**
 * The one transaction helper: run fn in a transaction on client, commit on
 * success, roll back on any error. Nested calls use savepoints. If the
 * ROLLBACK itself fails (connection lost), the original error is thrown and
 * the client is left for the caller to discard.
 */
export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const level = depth.get(client) ?? 0;
  const savepoint = `tv_sp_${level}`;
  await client.query(level === 0 ? (opts.readOnly ? 'BEGIN TRANSACTION READ ONLY' : 'BEGIN') : `SAVEPOINT ${savepoint}`);
  depth.set(client, level + 1);
  try {
    const result = await fn();
    if (opts.discard) await client.query(level === 0 ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}`);
    else await client.query(level === 0 ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`);
    return result;
  } catch (error) {
    await client.query(level === 0 ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}`).catch(() => undefined);
    throw error;
  } finally {
    depth.set(client, level);
  }
}

/**
 * inTransaction, tried again (up to attempts times) while the error matches retryOn: for a
 * statement that loses a race to a writer that has since committed. Nested, the retry rolls
 * back to its own savepoint only, so the caller's transaction stays intact.
 */
export async function inTransactionRetrying<T>(client: pg.ClientBase, fn: () => Promise<T>, retryOn: RegExp, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(client, fn);
    } catch (error) {
      if (attempt >= attempts || !retryOn.test((error as Error).message)) throw error;
    }
  }
}

/** True while inTransaction has a transaction open on client. */
export const inTransactionNow = (client: pg.ClientBase): boolean => (depth.get(client) ?? 0) > 0;
