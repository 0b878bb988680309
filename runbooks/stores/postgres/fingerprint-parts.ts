import type pg from 'pg';
import { qualify, quoteIdent, type TableName } from './sql';

/**
 * One table's rows cut into parts that hash apart and add up (the row hash
 * sum is order-free), so one big table, a partitioned table or a hypertable
 * uses every verifying session. Every row falls in exactly one part: block
 * ranges cover [0, ∞) of a relation, relations are the table's own
 * descendants scanned ONLY, and time slices cover the whole time axis
 * whatever their bounds are.
 */
export interface FingerprintPart {
  /** Scan this relation alone (qualified, quoted) instead of the table with its descendants. */
  only?: string;
  /** Block range [from, to) for TID range scans; to = null means to the end. */
  blocks?: { from: number; to: number | null };
  /** A condition on the table's rows as `alias` (a hypertable's time slice). */
  where?: (alias: string) => string;
}

/** Relations under this many blocks are one part. */
const SPLIT_MIN_BLOCKS = 2048;
/** Parts are at most this many blocks (256 MiB), so no part keeps one session busy for long. */
const MAX_PART_BLOCKS = 32768;
/** At most this many time slices per hypertable (each one a query). */
const MAX_SLICES = 16;

const byBlocks = (blocks: number, workers: number, only?: string): FingerprintPart[] => {
  const parts = blocks > SPLIT_MIN_BLOCKS ? Math.max(workers, Math.ceil(blocks / MAX_PART_BLOCKS)) : 1;
  const step = Math.ceil(blocks / parts);
  return Array.from({ length: parts }, (_, i) => ({ ...(only ? { only } : {}), blocks: { from: i * step, to: i === parts - 1 ? null : (i + 1) * step } }));
};

/**
 * `byRelation`: descendants may be read alone. Only for row hashes that name
 * their columns: a whole-row hash (legacy algos) of a child read alone sees
 * the child's own row type.
 */
export async function fingerprintParts(client: pg.ClientBase, table: TableName, workers: number, byRelation: boolean): Promise<FingerprintPart[]> {
  // A time dimension whose type the chunk bounds do not cast to (a partitioning function's) is one part.
  const slices = await hypertableSlices(client, table).catch(() => [{}]);
  if (slices) return slices;
  const { rows } = await client.query<{ schema: string; name: string; kind: string; blocks: string; rls: boolean; readable: boolean }>(
    `WITH RECURSIVE tree(oid) AS (
       SELECT to_regclass($1)::oid
       UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid
     )
     SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::text AS blocks,
            c.relrowsecurity AS rls, has_table_privilege(c.oid, 'SELECT') AS readable
       FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace`,
    [qualify(table)],
  );
  const self = rows[0];
  if (rows.length <= 1 || !self || !byRelation) return byBlocks(Number(self?.blocks ?? 0), workers);
  // Through the table, its own privileges and policies apply; a descendant read alone has its own.
  if (rows.some((r) => r.rls || !r.readable)) return byBlocks(Number(self.blocks), workers);
  return rows.flatMap((r) => {
    const only = qualify({ schema: r.schema, name: r.name });
    if (r.kind === 'r') return byBlocks(Number(r.blocks), workers, only);
    if (r.kind === 'f') return [{ only }];
    return []; // a partitioned table holds no rows of its own
  });
}

/** A hypertable's time dimension and the bounds its slices start at (the first slice starts at −∞). */
export interface TimeSlices {
  column: string;
  /** The column's type, as SQL. */
  type: string;
  /** Ascending; slice 0 is (−∞, bounds[0]), slice i is [bounds[i-1], bounds[i]). */
  bounds: string[];
}

/**
 * A TimescaleDB hypertable cut along its time dimension at chunk bounds:
 * (−∞, b1), [b1, b2), …, [bn, ∞), NULLs in the first. Each slice reads its
 * chunks through the hypertable, so compressed chunks decompress as in any
 * query. Undefined when the table is not a hypertable; no bounds (one
 * slice) when its time is partitioned through a function.
 */
export async function timeSlices(client: pg.ClientBase, table: TableName): Promise<TimeSlices | undefined> {
  const ext = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
  if (!ext.rowCount) return undefined;
  const dim = await client.query<{ column: string; type: string }>(
    `SELECT column_name::text AS column, column_type::text AS type FROM timescaledb_information.dimensions
      WHERE hypertable_schema = $1 AND hypertable_name = $2 AND dimension_number = 1`,
    [table.schema, table.name],
  );
  const time = dim.rows[0];
  if (!time) return undefined;
  // Through a partitioning function, chunk bounds are the function's output, not the column's: one slice.
  const byFunction = await client.query(
    `SELECT 1 FROM _timescaledb_catalog.dimension d JOIN _timescaledb_catalog.hypertable h ON h.id = d.hypertable_id
      WHERE h.schema_name = $1 AND h.table_name = $2 AND d.column_name = $3 AND d.partitioning_func IS NOT NULL`,
    [table.schema, table.name, time.column],
  );
  if (byFunction.rowCount) return { ...time, bounds: [] };
  // Chunk starts in the column's own order; the lowest starts the first slice anyway.
  const { rows } = await client.query<{ bound: string }>(
    `SELECT bound FROM (
       SELECT DISTINCT coalesce(range_start::text, range_start_integer::text) AS bound FROM timescaledb_information.chunks
        WHERE hypertable_schema = $1 AND hypertable_name = $2
     ) b WHERE bound IS NOT NULL ORDER BY bound::${time.type}`,
    [table.schema, table.name],
  );
  const all = rows.map((r) => r.bound).slice(1);
  const step = Math.max(1, Math.ceil((all.length + 1) / MAX_SLICES));
  return { ...time, bounds: all.filter((_, i) => (i + 1) % step === 0) };
}

/** The literal of a bound, typed as the time column. */
const typedBound = (slices: TimeSlices, bound: string): string => `'${bound.replace(/'/g, "''")}'::${slices.type}`;

/** The part that reads slice i. */
export function slicePart(slices: TimeSlices, i: number): FingerprintPart {
  const { bounds } = slices;
  if (bounds.length === 0) return {};
  const column = (alias: string) => `${alias}.${quoteIdent(slices.column)}`;
  if (i === 0) return { where: (alias) => `(${column(alias)} < ${typedBound(slices, bounds[0]!)} OR ${column(alias)} IS NULL)` };
  const lo = typedBound(slices, bounds[i - 1]!);
  return { where: (alias) => `${column(alias)} >= ${lo}${i < bounds.length ? ` AND ${column(alias)} < ${typedBound(slices, bounds[i]!)}` : ''}` };
}

async function hypertableSlices(client: pg.ClientBase, table: TableName): Promise<FingerprintPart[] | undefined> {
  const slices = await timeSlices(client, table);
  return slices && Array.from({ length: slices.bounds.length + 1 }, (_, i) => slicePart(slices, i));
}
