import crypto from 'node:crypto';
import type pg from 'pg';
import { NORMALISE_SESSION, qualify, tableLabel, type TableName } from './sql';

/** Row count plus an order-independent content hash, computed in the database. */
export interface TableFingerprint {
  table: string;
  rows: number;
  hash: string;
}

/**
 * Sum of the first 64 bits of md5(row text): order-free, so two copies with
 * equal content agree whatever their physical order, and it costs one scan.
 */
export async function fingerprintTable(client: pg.ClientBase, table: TableName): Promise<TableFingerprint> {
  await client.query(NORMALISE_SESSION);
  const { rows } = await client.query<{ rows: string; hash: string }>(
    `SELECT count(*)::text AS rows,
            coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text AS hash
       FROM ${qualify(table)} AS t`,
  );
  return { table: tableLabel(table), rows: Number(rows[0]!.rows), hash: rows[0]!.hash };
}

/** Ordinary and partitioned user tables (not partitions), sorted by name. */
export async function listTables(client: pg.ClientBase, opts: { excludeSchemas?: string[] } = {}): Promise<TableName[]> {
  const exclude = ['pg_catalog', 'information_schema', 'tickvault', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', '_timescaledb_cache', 'timescaledb_information', ...(opts.excludeSchemas ?? [])];
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
      ORDER BY 1, 2`,
    [exclude],
  );
  return rows;
}

export async function fingerprintTables(client: pg.ClientBase, tables: TableName[]): Promise<TableFingerprint[]> {
  const out: TableFingerprint[] = [];
  for (const table of tables) out.push(await fingerprintTable(client, table));
  return out;
}

/** One digest over many table fingerprints (sorted, so order-free too). */
export function combinedHash(fingerprints: TableFingerprint[]): string {
  const lines = fingerprints.map((f) => `${f.table}\t${f.rows}\t${f.hash}`).sort();
  return crypto.createHash('sha256').update(lines.join('\n')).digest('hex');
}
