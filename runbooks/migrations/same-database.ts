import crypto from 'node:crypto';
import type pg from 'pg';
import { RefusedError } from '../engine/errors';
import { withClient } from '../stores/postgres/connect';

/** Cluster system identifier and database name; null when pg_control_system() is not allowed. */
async function identity(client: pg.ClientBase): Promise<string | null> {
  try {
    const { rows } = await client.query<{ id: string }>('SELECT (SELECT system_identifier::text FROM pg_control_system()) || \'/\' || current_database() AS id');
    return rows[0]?.id ?? null;
  } catch {
    return null;
  }
}

/**
 * Without that privilege: the source session takes a random advisory lock and
 * the target looks for it in pg_locks for its own database. Seen means same
 * cluster and same database, however the URLs are spelled.
 */
async function seesSameLock(source: pg.ClientBase, target: pg.ClientBase): Promise<boolean> {
  const key = crypto.randomBytes(8).readBigInt64BE(0) & 0x7fffffffffffffffn;
  await source.query('SELECT pg_advisory_lock($1::bigint)', [key.toString()]);
  try {
    const { rows } = await target.query<{ seen: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND ((classid::bigint << 32) | objid::bigint) = $1::bigint) AS seen`,
      [key.toString()],
    );
    return Boolean(rows[0]?.seen);
  } finally {
    await source.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
  }
}

/** Refuse (exit 4) before anything runs when source and target are one database. */
export async function refuseSameDatabase(sourceUrl: string, targetUrl: string): Promise<{ source: string | null }> {
  return withClient(sourceUrl, (source) =>
    withClient(targetUrl, async (target) => {
      const [a, b] = [await identity(source), await identity(target)];
      const same = a !== null && b !== null ? a === b : await seesSameLock(source, target);
      if (same) throw new RefusedError(`source and target are the same database${a ? ` (${a})` : ''}; nothing was changed`, { hint: 'pass a different --target-url (or --source-url)' });
      return { source: a };
    }, '--target-url'),
  '--source-url');
}
