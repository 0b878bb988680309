import crypto from 'node:crypto';
import type pg from 'pg';
import { explainHashFailure, hashColumns, hashesByName, legacyRowHash, ROW_HASH_ALGO, rowHash, type HashColumn, type RowHashAlgo } from '../../verify/row-hash';
import { pgWorker, runPool } from '../../engine/pool';
import { fingerprintParts, type FingerprintPart } from './fingerprint-parts';
import { NORMALISE_SESSION, qualify, quoteIdent, tableLabel, type TableName } from './sql';

/** Row count plus an order-independent content hash, computed in the database. */
export interface TableFingerprint {
  /** schema.name, for people; two tables can share it ("a.b"."c" and "a"."b.c"). */
  table: string;
  /** The table's own schema and name (manifests before 6 Dec 2026 lack them). */
  schema?: string;
  name?: string;
  rows: number;
  hash: string;
  algo: RowHashAlgo;
  /** Columns hashed, by name (`named` only): a lost or added column is a difference. */
  columns?: { name: string; type: string }[];
  /** Newest value of the table's event-time columns, ISO UTC (informational only). */
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

/** What the fingerprint query needs to know about a table. */
export interface TableShape {
  table: TableName;
  columns: HashColumn[];
}

/**
 * A table is scanned with its inheritance children and partitions (not
 * ONLY): a TimescaleDB hypertable's rows live in its chunks. Children are
 * projected onto the parent's columns by name, so their own column order
 * does not matter.
 */
export async function tableShape(client: pg.ClientBase, table: TableName): Promise<TableShape> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [qualify(table)]);
  if (!rows[0]?.ok) throw new Error(`${tableLabel(table)}: no such table`);
  return { table, columns: await hashColumns(client, qualify(table)) };
}

interface QueryOptions {
  algo: RowHashAlgo;
  /** Only these rows (fingerprint-parts.ts); all of them when absent. */
  part?: FingerprintPart;
  /** Also return the newest event time not after this instant. */
  newestAsOf?: { at: Date; columns: { name: string; tz: boolean }[] };
}

const ALIAS = 'tv_row';

async function runFingerprint(client: pg.ClientBase, shape: TableShape, opts: QueryOptions): Promise<{ rows: number; hash: string; newest: string | null }> {
  const legacy = !hashesByName(opts.algo);
  // Backups made before `named` hashed the whole row as "t": reproduce that exactly.
  const alias = legacy ? 't' : ALIAS;
  const { only, blocks, where: slice } = opts.part ?? {};
  const from = `${only ? `ONLY ${only}` : qualify(shape.table)} AS ${alias}`;
  const where: string[] = [];
  if (blocks && (blocks.from > 0 || blocks.to !== null)) {
    where.push(`${alias}.ctid >= '(${blocks.from},0)'::tid`);
    if (blocks.to !== null) where.push(`${alias}.ctid < '(${blocks.to},0)'::tid`);
  }
  if (slice) where.push(slice(alias));
  const maxes = (opts.newestAsOf?.columns ?? []).map((c) => {
    const expr = c.tz ? `${alias}.${quoteIdent(c.name)}` : `(${alias}.${quoteIdent(c.name)} AT TIME ZONE 'UTC')`;
    return `max(${expr}) FILTER (WHERE ${expr} <= $1::timestamptz)`;
  });
  const newest = maxes.length ? `to_char(greatest(${maxes.join(', ')}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` : 'NULL';
  const hash = legacy ? legacyRowHash(alias, opts.algo as 'record' | 'md5') : rowHash(alias, shape.columns, undefined, opts.algo as 'mixed' | 'named');
  const { rows } = await client.query<{ rows: string; hash: string; newest: string | null }>(
    `SELECT count(*)::text AS rows, coalesce(sum(${hash}), 0)::text AS hash, ${newest} AS newest
       FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
    maxes.length ? [opts.newestAsOf!.at.toISOString()] : [],
  );
  return { rows: Number(rows[0]!.rows), hash: rows[0]!.hash, newest: rows[0]!.newest };
}

const columnList = (shape: TableShape) => shape.columns.map((c) => ({ name: c.name, type: c.type }));

/**
 * Fingerprint one table with the row hash of verify/row-hash.ts (or a
 * legacy algo, to check an old backup). A failure names the column; inside
 * a snapshot transaction a savepoint keeps the transaction usable for that.
 */
export async function fingerprintTable(client: pg.ClientBase, table: TableName, opts: { algo?: RowHashAlgo; newestAsOf?: Date; inTransaction?: boolean } = {}): Promise<TableFingerprint> {
  await client.query(NORMALISE_SESSION);
  const algo = opts.algo ?? ROW_HASH_ALGO;
  const shape = await tableShape(client, table);
  const newestAsOf = opts.newestAsOf ? { at: opts.newestAsOf, columns: await eventTimeColumns(client, table) } : undefined;
  if (opts.inTransaction) await client.query('SAVEPOINT tv_fingerprint');
  let result;
  try {
    result = await runFingerprint(client, shape, { algo, ...(newestAsOf ? { newestAsOf } : {}) });
    if (opts.inTransaction) await client.query('RELEASE SAVEPOINT tv_fingerprint');
  } catch (error) {
    if (opts.inTransaction) await client.query('ROLLBACK TO SAVEPOINT tv_fingerprint');
    throw await explainHashFailure(client, qualify(table), tableLabel(table), shape.columns, error);
  }
  return {
    table: tableLabel(table),
    schema: table.schema,
    name: table.name,
    rows: result.rows,
    hash: result.hash,
    algo,
    ...(hashesByName(algo) ? { columns: columnList(shape) } : {}),
    ...(opts.newestAsOf ? { newest: result.newest } : {}),
  };
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

/** One part of a table to hash (fingerprint-parts.ts). */
export interface PartJob {
  shape: TableShape;
  algo: RowHashAlgo;
  part: FingerprintPart;
}

/** Row counts and hash sums per table (keyed by its quoted name, which is unambiguous), added up part by part. */
export type PartSums = Map<string, { rows: number; hash: bigint }>;

/** Hash one part and add it to `sums`; a failure names the column. */
export async function hashPart(client: pg.ClientBase, job: PartJob, sums: PartSums): Promise<void> {
  const key = qualify(job.shape.table);
  let part;
  try {
    part = await runFingerprint(client, job.shape, { algo: job.algo, part: job.part });
  } catch (error) {
    throw await explainHashFailure(client, key, tableLabel(job.shape.table), job.shape.columns, error).catch(() => error);
  }
  const acc = sums.get(key) ?? { rows: 0, hash: 0n };
  sums.set(key, { rows: acc.rows + part.rows, hash: acc.hash + BigInt(part.hash) });
}

/**
 * Hash parts on `workers` connections; `first` (already open) is the first
 * worker's. The first failed part cancels the others' scans; every
 * connection is closed.
 */
export async function hashParts(connectTo: () => Promise<pg.Client>, jobs: PartJob[], workers: number, sums: PartSums, first?: pg.Client): Promise<void> {
  if (jobs.length === 0) {
    await first?.end().catch(() => undefined);
    return;
  }
  const open = async (i: number) => {
    const client = i === 0 && first ? first : await connectTo();
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
    await runPool(jobs, { workers, open: (i) => (opened++, open(i)), ...pgWorker((c: pg.Client) => [c]) }, (job, client) => hashPart(client, job, sums));
  } finally {
    if (opened === 0) await first?.end().catch(() => undefined); // the pool stopped before worker 0 took it
  }
}

/** The fingerprints of `tables`, in order, from their summed parts. */
export function fingerprintsFromSums(tables: { table: TableName; algo: RowHashAlgo }[], shapes: Map<string, TableShape>, sums: PartSums): TableFingerprint[] {
  return tables.map(({ table, algo }) => {
    const s = sums.get(qualify(table)) ?? { rows: 0, hash: 0n };
    return { table: tableLabel(table), schema: table.schema, name: table.name, rows: s.rows, hash: s.hash.toString(), algo, ...(hashesByName(algo) ? { columns: columnList(shapes.get(qualify(table))!) } : {}) };
  });
}

/**
 * Fingerprints of many tables on `workers` connections, each with a given
 * algo. Tables are cut into parts (fingerprint-parts.ts: block ranges,
 * partitions and children, a hypertable's time slices) so one big table
 * uses every core; the order-free sum makes the parts add up.
 */
export async function fingerprintParallel(connectTo: () => Promise<pg.Client>, tables: { table: TableName; algo: RowHashAlgo }[], workers = 2): Promise<TableFingerprint[]> {
  const first = await connectTo();
  const shapes = new Map<string, TableShape>();
  const jobs: PartJob[] = [];
  try {
    await first.query(NORMALISE_SESSION);
    for (const { table, algo } of tables) {
      const shape = await tableShape(first, table);
      shapes.set(qualify(table), shape);
      for (const part of await fingerprintParts(first, table, workers, hashesByName(algo))) jobs.push({ shape, algo, part });
    }
  } catch (error) {
    await first.end();
    throw error;
  }
  const sums: PartSums = new Map();
  await hashParts(connectTo, jobs, workers, sums, first);
  return fingerprintsFromSums(tables, shapes, sums);
}

/** Every user table's fingerprint, and one digest over them: "is this database as it was?". */
export async function databaseFingerprint(client: pg.ClientBase): Promise<{ tables: TableFingerprint[]; hash: string }> {
  const tables = await fingerprintTables(client, await listTables(client));
  return { tables, hash: combinedHash(tables) };
}

/** Large objects: count and order-free hash of (oid, content). OIDs are kept by pg_dump. */
export async function largeObjectsFingerprint(client: pg.ClientBase): Promise<{ count: number; hash: string }> {
  const { rows } = await client.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(('x' || substr(md5(oid::text || ':' || md5(lo_get(oid))), 1, 16))::bit(64)::bigint), 0)::text AS h FROM pg_largeobject_metadata`,
  );
  return { count: Number(rows[0]!.n), hash: rows[0]!.h };
}

/** Every user sequence's state: last value, or null when never called. */
export async function sequenceStates(client: pg.ClientBase): Promise<Record<string, string | null>> {
  const { rows } = await client.query<{ name: string; v: string | null }>(
    `SELECT schemaname || '.' || sequencename AS name, last_value::text AS v FROM pg_sequences
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'tickvault') AND schemaname NOT LIKE '\\_timescaledb%' ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.v]));
}
