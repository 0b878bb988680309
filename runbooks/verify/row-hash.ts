import type pg from 'pg';
import { quoteIdent } from '../stores/postgres/sql';

/**
 * The one definition of a row's content hash, used by backup fingerprints,
 * restore verification, verify.ts and copy verification (README: "What
 * equal means"). A row hashes as
 *
 *   hashtextextended(hash_record_extended(ROW(v1, …, vn), 0)::text, 0)
 *
 * over its columns sorted by name (bytewise), so column order and OIDs do
 * not matter. The outer hash is what makes sums of row hashes safe:
 * hash_record_extended is linear in its columns' hashes (31·h + h_col), so
 * a plain sum counts each column's values but not which row holds them (a
 * value swapped between two rows summed the same). The outer hash mixes all
 * 64 bits non-linearly, in one pass (hashint8extended folds its input to 32
 * bits first; two arguments would compute the record hash twice). It costs
 * about 0.1 µs a row (2 M bars rows: 1.83–1.90 s → 1.99–2.28 s). Each v is either the value itself, for built-in scalar types
 * whose equality is plain value equality (integers, numeric, floats, text
 * under a deterministic collation, timestamps, …), or its canonical text
 * (enums by label, json, tsvector, geometry, arrays, composites, ranges…).
 * Both forms agree on what is equal: numeric by value (1.0 = 1.00), float
 * -0 = 0 and NaN = NaN, timestamptz by instant. Needs NORMALISE_SESSION.
 */
export const ROW_HASH_ALGO = 'mixed' as const;

/**
 * Every algo a manifest can name: `mixed` now; `named` (the same without the
 * outer hash), `record` and `md5` in backups made before it.
 */
export type RowHashAlgo = typeof ROW_HASH_ALGO | 'named' | 'record' | 'md5';

/** The algos that hash columns by name (`record` and `md5` hash the row by position). */
export const hashesByName = (algo: RowHashAlgo): algo is 'mixed' | 'named' => algo === 'mixed' || algo === 'named';

export interface HashColumn {
  name: string;
  /** format_type(), e.g. numeric(20,8), "Odd Schema".mood, integer[]. */
  type: string;
  /** Base type's name after domains, e.g. numeric; with `builtin` when in pg_catalog. */
  base: string;
  builtin: boolean;
  /** Collation is deterministic (or the type has none). */
  deterministic: boolean;
}

// Built-in types whose hash function agrees with their canonical text below.
// Not interval ('1 day' = '24 hours' but prints differently), jsonb (1.0 = 1.00 inside), arrays.
const NATIVE = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'bool', 'text', 'varchar', 'bpchar', 'name', 'char', 'bytea', 'date', 'time', 'timestamp', 'timestamptz', 'uuid', 'oid']);
const NUMBERS = new Set(['int2', 'int4', 'int8', 'numeric', 'money']);
const FLOATS = new Set(['float4', 'float8']);

/** Columns of a table (or partitioned table), not dropped, sorted by name bytewise. */
export async function hashColumns(client: pg.ClientBase, relation: string): Promise<HashColumn[]> {
  const { rows } = await client.query<HashColumn>(
    `WITH RECURSIVE cols AS (
       SELECT a.attnum, a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS type, a.atttypid AS typid, a.attcollation
         FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
     ), base AS (
       SELECT attnum, typid FROM cols
       UNION ALL
       SELECT b.attnum, ty.typbasetype FROM base b JOIN pg_type ty ON ty.oid = b.typid WHERE ty.typtype = 'd'
     )
     SELECT c.name, c.type, bt.typname::text AS base, bt.typnamespace = 'pg_catalog'::regnamespace AS builtin,
            coalesce(co.collisdeterministic, true) AS deterministic
       FROM cols c JOIN base b ON b.attnum = c.attnum JOIN pg_type bt ON bt.oid = b.typid AND bt.typtype <> 'd'
       LEFT JOIN pg_collation co ON co.oid = c.attcollation`,
    [relation],
  );
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface ValueOptions {
  /** Canonical text even for native types (the two sides' types differ). */
  text?: boolean;
  /** Floats as numeric text too (the other side stores the column as numeric). */
  floatsAsNumeric?: boolean;
}

/** Whether a column hashes by value (true) or by canonical text. */
export const hashesNatively = (column: HashColumn): boolean => column.builtin && NATIVE.has(column.base) && column.deterministic;

/** The SQL expression a column contributes to its row's hash. */
export function columnValue(alias: string, column: HashColumn, opts: ValueOptions = {}): string {
  const ref = `${alias}.${quoteIdent(column.name)}`;
  const asBase = column.builtin ? `(${ref})::pg_catalog.${quoteIdent(column.base)}` : ref;
  if (hashesNatively(column) && !opts.text) return asBase;
  return `(${canonicalText(column, asBase, opts)}) COLLATE "C"`;
}

function canonicalText(column: HashColumn, value: string, opts: ValueOptions): string {
  if (!column.builtin) return `${value}::text`; // enums by label, composites, user ranges
  if (NUMBERS.has(column.base)) return `trim_scale(${value}::numeric)::text`;
  // Through the float's shortest exact text (extra_float_digits = 1): a float's own cast to
  // numeric keeps 15 significant digits (float4: 6), so 0.1 + 0.2 would equal numeric 0.3.
  if (opts.floatsAsNumeric && FLOATS.has(column.base)) return `trim_scale((${value}::text)::numeric)::text`;
  if (FLOATS.has(column.base)) return `CASE WHEN ${value} = 0 THEN '0' ELSE ${value}::text END`;
  if (column.base === 'timestamptz') return `(${value} AT TIME ZONE 'UTC')::text`;
  return `${value}::text`;
}

/** The row hash (a bigint) of the row `alias`, over these columns; `named` for backups made before `mixed`. */
export function rowHash(alias: string, columns: HashColumn[], opts: (column: HashColumn) => ValueOptions = () => ({}), algo: 'mixed' | 'named' = ROW_HASH_ALGO): string {
  if (columns.length === 0) return '0::bigint';
  const record = `hash_record_extended(ROW(${columns.map((c) => columnValue(alias, c, opts(c))).join(', ')}), 0)`;
  return algo === 'named' ? record : `hashtextextended((${record})::text COLLATE "C", 0)`;
}

/** Row hashes of backups made before `named` existed (position- and OID-dependent). */
export function legacyRowHash(alias: string, algo: 'record' | 'md5'): string {
  return algo === 'record' ? `hash_record_extended(${alias}, 0)` : `('x' || substr(md5(${alias}::text), 1, 16))::bit(64)::bigint`;
}

/**
 * When hashing failed, find the column whose values cannot be hashed and
 * say so by name: "public.film.fulltext (tsvector): …".
 */
export async function explainHashFailure(client: pg.ClientBase, from: string, label: string, columns: HashColumn[], error: unknown): Promise<Error> {
  for (const column of columns) {
    try {
      await client.query(`SELECT sum(hash_record_extended(ROW(${columnValue('tv_row', column)}), 0)) FROM ${from} AS tv_row`);
    } catch (inner) {
      return new Error(`${label}.${column.name} (${column.type}): ${(inner as Error).message}`);
    }
  }
  return new Error(`${label}: ${(error as Error).message}`);
}
