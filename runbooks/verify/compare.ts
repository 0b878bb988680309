import type pg from 'pg';
import { ConfigError } from '../engine/errors';
import { connect } from '../stores/postgres/connect';
import { NORMALISE_SESSION, qualify, quoteIdent, tableLabel, type TableName } from '../stores/postgres/sql';

/** One side of a comparison: a table (or a filtered projection of one) in a database. */
export interface Side {
  url: string;
  table: TableName;
  /** Extra filter, e.g. canonical_symbol = 'DXY' AND timeframe = '1m'. */
  where?: string;
}

export interface Difference {
  key: string;
  kind: 'missing in target' | 'extra in target' | 'changed';
}

export interface Comparison {
  equal: boolean;
  sourceRows: number;
  targetRows: number;
  buckets: number;
  hashing: string;
  differingBuckets: number;
  differences: Difference[];
  /** True when more differences exist than were reported. */
  truncated: boolean;
}

const BUCKET_BITS = 10; // 1,024 segments in one scan
const MAX_BUCKETS_TO_BISECT = 64;
const MAX_REPORTED = 1000;

/**
 * Text that compares equal across engines and type choices: numerics without
 * trailing zeros, times in UTC ISO, booleans as 1/0, NULL as \N.
 */
function normalised(column: string, type: string): string {
  const c = `t.${quoteIdent(column)}`;
  let expr: string;
  if (/^(numeric|real|double precision|smallint|integer|bigint)/.test(type)) expr = `trim_scale(${c}::numeric)::text`;
  else if (type.startsWith('timestamp with')) expr = `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
  else if (type.startsWith('timestamp')) expr = `to_char(${c}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
  else if (type === 'boolean') expr = `CASE WHEN ${c} THEN '1' ELSE '0' END`;
  else expr = `${c}::text`;
  return `coalesce(${expr}, '\\N')`;
}

async function columnTypes(client: pg.ClientBase, table: TableName): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [qualify(table)],
  );
  return new Map(rows.map((r) => [r.name, r.type]));
}

async function primaryKey(client: pg.ClientBase, table: TableName): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
      WHERE c.conrelid = to_regclass($1) AND c.contype = 'p' ORDER BY k.ord`,
    [qualify(table)],
  );
  return rows.map((r) => r.name);
}

/**
 * Key hash and row hash for every row of a side, as a SQL subquery (plus the
 * key's text when `withKey`). With the same column types on both sides, the
 * types' own hash functions (hash_record_extended) are used: no text
 * conversion, several times cheaper. Otherwise values are normalised to text.
 */
function hashedRows(side: Side, key: string[], columns: string[], types: Map<string, string>, native: boolean, withKey = false): string {
  const keyText = `concat_ws('|', ${key.map((k) => normalised(k, types.get(k)!)).join(', ')})`;
  const col = (c: string) => `t.${quoteIdent(c)}`;
  const kh = native ? `hash_record_extended(ROW(${key.map(col).join(', ')}), 0)` : `hashtextextended(${keyText}, 0)`;
  const rh = native ? `hash_record_extended(ROW(${columns.map(col).join(', ')}), 0)` : `hashtextextended(concat_ws('|', ${columns.map((c) => normalised(c, types.get(c)!)).join(', ')}), 0)`;
  return `SELECT ${withKey ? `${keyText} AS k, ` : ''}${kh} AS kh, ${rh} AS rh FROM ${qualify(side.table)} t${side.where ? ` WHERE ${side.where}` : ''}`;
}

/**
 * data-diff style: count and order-free hash sum per segment, computed in
 * each database at once; segments that disagree are bisected down to their
 * rows, whose keys are reported.
 */
export async function compareTables(source: Side, target: Side, opts: { key?: string[]; columns?: string[] } = {}): Promise<Comparison> {
  const [a, b] = await Promise.all([connect(source.url, '--source-url'), connect(target.url, '--target-url')]);
  try {
    await Promise.all([a.query(NORMALISE_SESSION), b.query(NORMALISE_SESSION)]);
    const [ta, tb] = await Promise.all([columnTypes(a, source.table), columnTypes(b, target.table)]);
    if (ta.size === 0) throw new ConfigError(`source has no table ${tableLabel(source.table)}`);
    if (tb.size === 0) throw new ConfigError(`target has no table ${tableLabel(target.table)}`);
    const key = opts.key?.length ? opts.key : await primaryKey(a, source.table);
    if (key.length === 0) throw new ConfigError(`${tableLabel(source.table)} has no primary key: pass --key col,…`);
    const columns = opts.columns?.length ? opts.columns : [...ta.keys()].filter((c) => tb.has(c));
    for (const c of [...key, ...columns]) {
      if (!ta.has(c)) throw new ConfigError(`source ${tableLabel(source.table)} has no column ${c}`);
      if (!tb.has(c)) throw new ConfigError(`target ${tableLabel(target.table)} has no column ${c}`);
    }
    const mask = (1 << BUCKET_BITS) - 1;
    let native = [...key, ...columns].every((c) => ta.get(c) === tb.get(c));
    const segmentQuery = (side: Side, types: Map<string, string>) =>
      `SELECT (kh & ${mask})::int AS b, count(*)::bigint AS n, sum(rh)::text AS h FROM (${hashedRows(side, key, columns, types, native)}) s GROUP BY 1`;
    const segments = () => Promise.all([a.query<{ b: number; n: string; h: string }>(segmentQuery(source, ta)), b.query<{ b: number; n: string; h: string }>(segmentQuery(target, tb))]);
    let sa, sb;
    try {
      [sa, sb] = await segments();
    } catch (error) {
      // A column type without a hash function: fall back to normalised text.
      if (!native || !/could not identify a hash function/i.test((error as Error).message)) throw error;
      native = false;
      [sa, sb] = await segments();
    }
    const ma = new Map(sa.rows.map((r) => [r.b, r]));
    const mb = new Map(sb.rows.map((r) => [r.b, r]));
    const differing = [...new Set([...ma.keys(), ...mb.keys()])].filter((bucket) => ma.get(bucket)?.n !== mb.get(bucket)?.n || ma.get(bucket)?.h !== mb.get(bucket)?.h);
    const sourceRows = sa.rows.reduce((s, r) => s + Number(r.n), 0);
    const targetRows = sb.rows.reduce((s, r) => s + Number(r.n), 0);
    const differences: Difference[] = [];
    const bisect = differing.slice(0, MAX_BUCKETS_TO_BISECT);
    if (bisect.length) {
      const rowsQuery = (side: Side, types: Map<string, string>) => `SELECT k, rh::text AS rh FROM (${hashedRows(side, key, columns, types, native, true)}) s WHERE (kh & ${mask})::int = ANY($1::int[])`;
      const [ra, rb] = await Promise.all([a.query<{ k: string; rh: string }>(rowsQuery(source, ta), [bisect]), b.query<{ k: string; rh: string }>(rowsQuery(target, tb), [bisect])]);
      const rowsA = new Map(ra.rows.map((r) => [r.k, r.rh]));
      const rowsB = new Map(rb.rows.map((r) => [r.k, r.rh]));
      for (const [k, h] of rowsA) {
        if (!rowsB.has(k)) differences.push({ key: k, kind: 'missing in target' });
        else if (rowsB.get(k) !== h) differences.push({ key: k, kind: 'changed' });
      }
      for (const k of rowsB.keys()) if (!rowsA.has(k)) differences.push({ key: k, kind: 'extra in target' });
    }
    differences.sort((x, y) => x.key.localeCompare(y.key));
    return {
      equal: differing.length === 0,
      sourceRows,
      targetRows,
      buckets: 1 << BUCKET_BITS,
      hashing: native ? 'native (same column types)' : 'normalised text',
      differingBuckets: differing.length,
      differences: differences.slice(0, MAX_REPORTED),
      truncated: differences.length > MAX_REPORTED || differing.length > MAX_BUCKETS_TO_BISECT,
    };
  } finally {
    await a.end().catch(() => undefined);
    await b.end().catch(() => undefined);
  }
}
