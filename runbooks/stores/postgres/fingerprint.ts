import crypto from 'node:crypto';
import type pg from 'pg';
import { pgWorker, runPool } from '../../engine/pool';
import { NORMALISE_SESSION, qualify, quoteIdent, tableLabel, type TableName } from './sql';

/**
 * How a row is hashed. `record`: hash_record_extended, the per-type hash
 * functions PostgreSQL keeps stable for hash partitioning (no text output,
 * about 4× cheaper). `md5`: the first 64 bits of md5(row::text), for column
 * types without a hash function (json, point, …).
 */
export type HashAlgo = 'record' | 'md5';

const ROW_HASH: Record<HashAlgo, string> = {
  record: 'hash_record_extended(t, 0)',
  md5: "('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint",
};

/** Row count plus an order-independent content hash, computed in the database. */
export interface TableFingerprint {
  table: string;
  rows: number;
  hash: string;
  algo: HashAlgo;
  /** Newest value of the table's event-time columns, ISO UTC (informational, for RPO). */
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

interface QueryOptions {
  algo: HashAlgo;
  /** Block range [from, to) for TID range scans; to = null means to the end. */
  blocks?: { from: number; to: number | null };
  /** Also return the newest event time not after this instant. */
  newestAsOf?: { at: Date; columns: { name: string; tz: boolean }[] };
}

async function runFingerprint(client: pg.ClientBase, table: TableName, opts: QueryOptions): Promise<{ rows: number; hash: string; newest: string | null }> {
  const where: string[] = [];
  if (opts.blocks && (opts.blocks.from > 0 || opts.blocks.to !== null)) {
    where.push(`t.ctid >= '(${opts.blocks.from},0)'::tid`);
    if (opts.blocks.to !== null) where.push(`t.ctid < '(${opts.blocks.to},0)'::tid`);
  }
  const maxes = (opts.newestAsOf?.columns ?? []).map((c) => {
    const expr = c.tz ? `t.${quoteIdent(c.name)}` : `(t.${quoteIdent(c.name)} AT TIME ZONE 'UTC')`;
    return `max(${expr}) FILTER (WHERE ${expr} <= $1::timestamptz)`;
  });
  const newest = maxes.length ? `to_char(greatest(${maxes.join(', ')}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` : 'NULL';
  const { rows } = await client.query<{ rows: string; hash: string; newest: string | null }>(
    `SELECT count(*)::text AS rows, coalesce(sum(${ROW_HASH[opts.algo]}), 0)::text AS hash, ${newest} AS newest
       FROM ${qualify(table)} AS t${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
    maxes.length ? [opts.newestAsOf!.at.toISOString()] : [],
  );
  return { rows: Number(rows[0]!.rows), hash: rows[0]!.hash, newest: rows[0]!.newest };
}

const noHashFunction = (error: unknown): boolean => /could not identify a hash function/i.test((error as Error).message);

/**
 * Fingerprint one table. With no algo given, prefer `record` and fall back
 * to `md5` for unhashable column types; a savepoint keeps an enclosing
 * snapshot transaction usable after the failed attempt.
 */
export async function fingerprintTable(client: pg.ClientBase, table: TableName, opts: { algo?: HashAlgo; newestAsOf?: Date; inTransaction?: boolean } = {}): Promise<TableFingerprint> {
  await client.query(NORMALISE_SESSION);
  const newestAsOf = opts.newestAsOf ? { at: opts.newestAsOf, columns: await eventTimeColumns(client, table) } : undefined;
  const attempt = async (algo: HashAlgo) => ({ algo, ...(await runFingerprint(client, table, { algo, ...(newestAsOf ? { newestAsOf } : {}) })) });
  let result;
  if (opts.algo) result = await attempt(opts.algo);
  else {
    if (opts.inTransaction) await client.query('SAVEPOINT tv_fingerprint');
    try {
      result = await attempt('record');
      if (opts.inTransaction) await client.query('RELEASE SAVEPOINT tv_fingerprint');
    } catch (error) {
      if (!noHashFunction(error)) throw error;
      if (opts.inTransaction) await client.query('ROLLBACK TO SAVEPOINT tv_fingerprint');
      result = await attempt('md5');
    }
  }
  return { table: tableLabel(table), rows: result.rows, hash: result.hash, algo: result.algo, ...(opts.newestAsOf ? { newest: result.newest } : {}) };
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

/** The newest of many tables' newest event times. */
export const newestOf = (fingerprints: TableFingerprint[]): string | null =>
  fingerprints.map((f) => f.newest).filter((v): v is string => Boolean(v)).sort().at(-1) ?? null;

/** One digest over many table fingerprints (sorted, so order-free too). */
export function combinedHash(fingerprints: TableFingerprint[]): string {
  const lines = fingerprints.map((f) => `${f.table}\t${f.rows}\t${f.hash}`).sort();
  return crypto.createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * Fingerprints of many tables on `workers` connections, each with a given
 * algo. Large tables are cut into block ranges (TID range scans) so one big
 * table uses every core; the order-free sum makes the parts add up.
 */
export async function fingerprintParallel(connectTo: () => Promise<pg.Client>, tables: { table: TableName; algo: HashAlgo }[], workers = 2): Promise<TableFingerprint[]> {
  const first = await connectTo();
  const chunks: { table: TableName; algo: HashAlgo; blocks: { from: number; to: number | null } }[] = [];
  try {
    for (const { table, algo } of tables) {
      const { rows } = await first.query<{ blocks: string }>(`SELECT (pg_relation_size(to_regclass($1)) / current_setting('block_size')::int)::text AS blocks`, [qualify(table)]);
      const blocks = Number(rows[0]?.blocks ?? 0);
      const parts = blocks > 2048 ? workers : 1;
      const step = Math.ceil(blocks / parts);
      for (let i = 0; i < parts; i++) chunks.push({ table, algo, blocks: { from: i * step, to: i === parts - 1 ? null : (i + 1) * step } });
    }
  } catch (error) {
    await first.end();
    throw error;
  }
  const sums = new Map<string, { rows: number; hash: bigint }>();
  if (chunks.length === 0) await first.end();
  // The shared pool: the first failed chunk cancels the others' scans; every connection is closed.
  const open = async (i: number) => {
    const client = i === 0 ? first : await connectTo();
    try {
      await client.query(NORMALISE_SESSION);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  };
  let opened = 0;
  try {
    await runPool(chunks, { workers, open: (i) => (opened++, open(i)), ...pgWorker((c: pg.Client) => [c]) }, async (chunk, client) => {
      const part = await runFingerprint(client, chunk.table, { algo: chunk.algo, blocks: chunk.blocks });
      const key = tableLabel(chunk.table);
      const acc = sums.get(key) ?? { rows: 0, hash: 0n };
      sums.set(key, { rows: acc.rows + part.rows, hash: acc.hash + BigInt(part.hash) });
    });
  } finally {
    if (opened === 0 && chunks.length > 0) await first.end().catch(() => undefined); // the pool stopped before worker 0 took it
  }
  return tables.map(({ table, algo }) => {
    const s = sums.get(tableLabel(table)) ?? { rows: 0, hash: 0n };
    return { table: tableLabel(table), rows: s.rows, hash: s.hash.toString(), algo };
  });
}

/** Every user table's fingerprint, and one digest over them: "is this database as it was?". */
export async function databaseFingerprint(client: pg.ClientBase): Promise<{ tables: TableFingerprint[]; hash: string }> {
  const tables = await fingerprintTables(client, await listTables(client));
  return { tables, hash: combinedHash(tables) };
}
