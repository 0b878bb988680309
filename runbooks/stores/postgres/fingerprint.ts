import crypto from 'node:crypto';
import type pg from 'pg';
import { NORMALISE_SESSION, qualify, quoteIdent, tableLabel, type TableName } from './sql';

/** Row count plus an order-independent content hash, computed in the database. */
export interface TableFingerprint {
  table: string;
  rows: number;
  hash: string;
  /** Newest value of the table's event-time columns, ISO UTC (not in manifests' equality). */
  newest?: string | null;
}

// Columns that hold future or planned times say nothing about data freshness.
const NOT_EVENT_TIME = /expire|until|deadline|valid_to|due|next_|scheduled/i;

/** Timestamp columns of a table that record when something happened. */
export async function eventTimeColumns(client: pg.ClientBase, table: TableName): Promise<{ name: string; tz: boolean }[]> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = $2 AND data_type IN ('timestamp with time zone', 'timestamp without time zone')
      ORDER BY ordinal_position`,
    [table.schema, table.name],
  );
  return rows.filter((r) => !NOT_EVENT_TIME.test(r.name)).map((r) => ({ name: r.name, tz: r.type === 'timestamp with time zone' }));
}

/**
 * Fingerprint plus the newest event time (capped at `asOf`) in the same
 * scan: restores use it to measure RPO.
 */
export async function fingerprintWithNewest(client: pg.ClientBase, table: TableName, asOf: Date): Promise<TableFingerprint> {
  await client.query(NORMALISE_SESSION);
  const columns = await eventTimeColumns(client, table);
  const maxes = columns.map((c) => {
    const expr = c.tz ? `t.${quoteIdent(c.name)}` : `(t.${quoteIdent(c.name)} AT TIME ZONE 'UTC')`;
    return `max(${expr}) FILTER (WHERE ${expr} <= $1::timestamptz)`;
  });
  const newestExpr = maxes.length ? `to_char(greatest(${maxes.join(', ')}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` : 'NULL';
  const { rows } = await client.query<{ rows: string; hash: string; newest: string | null }>(
    `SELECT count(*)::text AS rows,
            coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text AS hash,
            ${newestExpr} AS newest
       FROM ${qualify(table)} AS t`,
    maxes.length ? [asOf.toISOString()] : [],
  );
  return { table: tableLabel(table), rows: Number(rows[0]!.rows), hash: rows[0]!.hash, newest: rows[0]!.newest };
}

/** The newest of many tables' newest event times. */
export const newestOf = (fingerprints: TableFingerprint[]): string | null =>
  fingerprints.map((f) => f.newest).filter((v): v is string => Boolean(v)).sort().at(-1) ?? null;

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
