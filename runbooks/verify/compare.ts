import type pg from 'pg';
import { ConfigError } from '../engine/errors';
import { connectBoth } from '../stores/postgres/connect';
import { NORMALISE_SESSION, qualify, tableLabel, type TableName } from '../stores/postgres/sql';
import { columnValue, hashColumns, hashesNatively, rowHash, type HashColumn, type ValueOptions } from './row-hash';

/** One side of a comparison: a table (or a filtered projection of one) in a database. */
export interface Side {
  url: string;
  table: TableName;
  /** Extra filter, e.g. canonical_symbol = 'DXY' AND timeframe = '1m'. */
  where?: string;
  /** The table's own rows only, without inheritance children (what copy-table copies). */
  only?: boolean;
}

export interface Difference {
  /**
   * The key: one key column's canonical text as is (a NULL as \N); several
   * columns as a JSON array of their canonical texts, e.g. ["x|y", "z", null].
   * Without a key, the row's hash and how many times it occurs.
   */
  key: string;
  kind: 'missing in target' | 'extra in target' | 'changed';
  /** For changed rows: the columns whose values differ. */
  columns?: string[];
}

export interface Comparison {
  equal: boolean;
  sourceRows: number;
  targetRows: number;
  buckets: number;
  hashing: string;
  /** Columns on one side only, or "--key" problems: each names the column. */
  columnDifferences: string[];
  differingBuckets: number;
  differences: Difference[];
  /** True when more differences exist than were reported. */
  truncated: boolean;
  /** How rows were matched: the key's columns, or whole rows (no key: compared as multisets). */
  matchedBy: string[] | 'whole rows';
}

const BUCKET_BITS = 10; // 1,024 segments in one scan
const MAX_BUCKETS_TO_BISECT = 64;
const MAX_REPORTED = 1000;
const MAX_EXPLAINED = 50;
const ALIAS = 'tv_row';

/** FROM … WHERE of one side's rows. */
const rowsOf = (side: Side): string => `${side.only ? 'ONLY ' : ''}${qualify(side.table)} AS ${ALIAS}${side.where ? ` WHERE ${side.where}` : ''}`;

async function primaryKey(client: pg.ClientBase, table: TableName): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
      WHERE c.conrelid = to_regclass($1) AND c.contype = 'p' ORDER BY k.ord`,
    [qualify(table)],
  );
  return rows.map((r) => r.name);
}

const FLOATS = new Set(['float4', 'float8']);
const NUMBERS = new Set(['int2', 'int4', 'int8', 'numeric', 'money']);

/**
 * How a column is hashed on both sides: by value when both sides hold the
 * same built-in type, else by canonical text (floats as numeric text when
 * the other side is numeric). Arrays, ranges and composites are never cast
 * as scalars: their text is compared.
 */
function valueOptions(a: HashColumn, b: HashColumn): ValueOptions {
  if (hashesNatively(a) && hashesNatively(b) && a.base === b.base) return {};
  if (a.type === b.type) return {};
  const floatVsNumber = (FLOATS.has(a.base) && NUMBERS.has(b.base)) || (FLOATS.has(b.base) && NUMBERS.has(a.base));
  return { text: true, floatsAsNumeric: floatVsNumber };
}

interface Plan {
  key: HashColumn[] | null;
  /** The hashed columns, sorted by name: the compared ones plus the key's (each once). */
  columns: HashColumn[];
  opts: Map<string, ValueOptions>;
}

/** Column names sorted as row-hash.ts sorts a table's columns (code units, bytewise for the BMP). */
const byName = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);

/**
 * The key as text that identifies it unambiguously on both sides: a JSON
 * array of each key column's canonical text (the form that compares equal
 * across types, int4 1 = int8 1), SQL NULL as JSON null. Never a join of
 * texts: ('x|y','z') and ('x','y|z'), or NULL and the text '\N', stay apart.
 */
function keyText(key: HashColumn[], value: (c: HashColumn, i: number) => string): string {
  return `json_build_array(${key.map(value).join(', ')})::text`;
}

/** How a key is shown: a single column's text as is (NULL as \N, as COPY writes it), several as their JSON array. */
function displayKey(k: string, columns: number): string {
  if (columns !== 1) return k;
  const [v] = JSON.parse(k) as (string | null)[];
  return v ?? '\\N';
}

function hashedRows(side: Side, cols: Map<string, HashColumn>, plan: Plan, withKey = false): string {
  const own = (c: HashColumn) => cols.get(c.name)!;
  const value = (c: HashColumn, text = false) => columnValue(ALIAS, own(c), { ...plan.opts.get(c.name), ...(text ? { text: true } : {}) });
  const row = (list: HashColumn[]) => rowHash(ALIAS, list.map(own), (c) => plan.opts.get(c.name) ?? {});
  const rh = row(plan.columns);
  const kh = plan.key ? row(plan.key) : rh;
  const k = plan.key ? keyText(plan.key, (c) => value(c, true)) : `${rh}::text`;
  // With the key, each column's own hash too: which columns of a changed row differ, without another scan.
  // (The caller's bucket filter runs first, so only rows of differing buckets compute these.)
  const columnHashes = plan.key ? `, ARRAY[${plan.columns.map((c) => `${row([c])}::text`).join(', ')}]::text[] AS ch` : '';
  return `SELECT ${withKey ? `${k} AS k, ` : ''}${kh} AS kh, ${rh} AS rh${withKey ? columnHashes : ''} FROM ${rowsOf(side)}`;
}

/**
 * Refuse a --key that does not identify rows: "0 differing rows" on
 * duplicates would be a lie. Rows are grouped by each key column's
 * canonical text, column by column: the identity the comparison matches
 * rows by. NULL is a key value like any other here (GROUP BY puts NULLs
 * together): one row with a NULL key is matched with the other side's row
 * with a NULL key; two are not unique.
 */
async function assertUnique(client: pg.ClientBase, side: Side, cols: Map<string, HashColumn>, plan: Plan, label: string): Promise<void> {
  const key = plan.key!;
  const values = key.map((c) => columnValue(ALIAS, cols.get(c.name)!, { ...plan.opts.get(c.name), text: true }));
  const { rows } = await client.query<{ k: string; n: string }>(
    `SELECT ${keyText(key, (_, i) => `g.v${i}`)} AS k, count(*)::text AS n
       FROM (SELECT ${values.map((v, i) => `${v} AS v${i}`).join(', ')} FROM ${rowsOf(side)}) g
      GROUP BY ${values.map((_, i) => `g.v${i}`).join(', ')} HAVING count(*) > 1 LIMIT 3`,
  );
  if (rows.length) throw new ConfigError(`--key ${key.map((c) => c.name).join(',')} is not unique in the ${label} ${tableLabel(side.table)}: e.g. ${rows.map((r) => `${JSON.stringify(displayKey(r.k, key.length))} ×${r.n}`).join(', ')}`, { hint: 'pass key columns that identify one row each, or omit --key on a table without a primary key to compare whole rows' });
}

/**
 * data-diff style: count and order-free hash sum per segment, computed in
 * each database at once; segments that disagree are bisected down to their
 * rows, whose keys (and differing columns) are reported. Rows hash with
 * verify/row-hash.ts, by column name. A table without a key is compared as
 * a multiset of whole rows.
 */
export async function compareTables(source: Side, target: Side, opts: { key?: string[]; columns?: string[] } = {}): Promise<Comparison> {
  const [a, b] = await connectBoth({ url: source.url, label: '--source-url' }, { url: target.url, label: '--target-url' });
  try {
    await Promise.all([a.query(NORMALISE_SESSION), b.query(NORMALISE_SESSION)]);
    const [la, lb] = await Promise.all([hashColumns(a, qualify(source.table)), hashColumns(b, qualify(target.table))]);
    // A table whose columns were all dropped has none, yet holds rows: compare it by count.
    const exists = async (client: pg.ClientBase, side: Side) => (await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [qualify(side.table)])).rows[0]!.ok;
    const [ea, eb] = await Promise.all([exists(a, source), exists(b, target)]);
    if (!ea) throw new ConfigError(`source has no table ${tableLabel(source.table)}`);
    if (!eb) throw new ConfigError(`target has no table ${tableLabel(target.table)}`);
    const ca = new Map(la.map((c) => [c.name, c]));
    const cb = new Map(lb.map((c) => [c.name, c]));
    const columnDifferences: string[] = [];
    let names: string[];
    if (opts.columns?.length) names = [...new Set(opts.columns)];
    else {
      names = la.filter((c) => cb.has(c.name)).map((c) => c.name);
      for (const c of la) if (!cb.has(c.name)) columnDifferences.push(`${tableLabel(target.table)}.${c.name} (${c.type}): column missing in target`);
      for (const c of lb) if (!ca.has(c.name)) columnDifferences.push(`${tableLabel(target.table)}.${c.name} (${c.type}): column not in source`);
    }
    const keyNames = opts.key?.length ? opts.key : await primaryKey(a, source.table);
    for (const name of [...keyNames, ...names]) {
      if (!ca.has(name)) throw new ConfigError(`source ${tableLabel(source.table)} has no column ${name}`);
      if (!cb.has(name)) throw new ConfigError(`target ${tableLabel(target.table)} has no column ${name}`);
    }
    // The key's columns are always hashed with the row (by name, once): with --columns leaving them
    // out, two keys of one segment swapping their values would leave the segment's hash unchanged.
    const hashed = [...new Set([...keyNames, ...names])].sort(byName);
    const plan: Plan = {
      key: keyNames.length ? keyNames.map((n) => ca.get(n)!) : null,
      columns: hashed.map((n) => ca.get(n)!),
      opts: new Map(hashed.map((n) => [n, valueOptions(ca.get(n)!, cb.get(n)!)])),
    };
    if (plan.key && opts.key?.length) await Promise.all([assertUnique(a, source, ca, plan, 'source'), assertUnique(b, target, cb, plan, 'target')]);

    const mask = (1 << BUCKET_BITS) - 1;
    const segmentQuery = (side: Side, cols: Map<string, HashColumn>) => `SELECT (kh & ${mask})::int AS b, count(*)::bigint AS n, sum(rh)::text AS h FROM (${hashedRows(side, cols, plan)}) s GROUP BY 1`;
    const [sa, sb] = await Promise.all([a.query<{ b: number; n: string; h: string }>(segmentQuery(source, ca)), b.query<{ b: number; n: string; h: string }>(segmentQuery(target, cb))]);
    const ma = new Map(sa.rows.map((r) => [r.b, r]));
    const mb = new Map(sb.rows.map((r) => [r.b, r]));
    const differing = [...new Set([...ma.keys(), ...mb.keys()])].filter((bucket) => ma.get(bucket)?.n !== mb.get(bucket)?.n || ma.get(bucket)?.h !== mb.get(bucket)?.h);
    const sourceRows = sa.rows.reduce((s, r) => s + Number(r.n), 0);
    const targetRows = sb.rows.reduce((s, r) => s + Number(r.n), 0);
    const differences: Difference[] = [];
    const bisect = differing.slice(0, MAX_BUCKETS_TO_BISECT);
    if (bisect.length) {
      const rowsQuery = (side: Side, cols: Map<string, HashColumn>) =>
        `SELECT k, rh::text AS rh, count(*)::int AS n${plan.key ? ', min(ch) AS ch' : ''} FROM (${hashedRows(side, cols, plan, true)}) s WHERE (kh & ${mask})::int = ANY($1::int[]) GROUP BY 1, 2`;
      type BucketRow = { k: string; rh: string; n: number; ch?: string[] };
      const [ra, rb] = await Promise.all([a.query<BucketRow>(rowsQuery(source, ca), [bisect]), b.query<BucketRow>(rowsQuery(target, cb), [bisect])]);
      if (plan.key) {
        const rowsA = new Map(ra.rows.map((r) => [r.k, r.rh]));
        const rowsB = new Map(rb.rows.map((r) => [r.k, r.rh]));
        // Matched by the unambiguous key text k (a JSON array); shown as displayKey(k).
        const keyed: Keyed[] = [];
        for (const [k, h] of rowsA) {
          if (!rowsB.has(k)) keyed.push({ k, kind: 'missing in target' });
          else if (rowsB.get(k) !== h) keyed.push({ k, kind: 'changed' });
        }
        for (const k of rowsB.keys()) if (!rowsA.has(k)) keyed.push({ k, kind: 'extra in target' });
        explainChanged(ra.rows, rb.rows, plan, keyed);
        const show = (k: string) => displayKey(k, plan.key!.length);
        for (const d of keyed) differences.push({ key: show(d.k), kind: d.kind, ...(d.columns ? { columns: d.columns } : {}) });
        // A key that is not unique on one side (no constraint there) shows up as a duplicate, never as "equal".
        // (Rows are grouped by key and row hash: a key's rows are counted over all its row hashes.)
        const perKey = (rows: BucketRow[]) => rows.reduce((m, r) => m.set(r.k, (m.get(r.k) ?? 0) + r.n), new Map<string, number>());
        for (const [k, n] of perKey(rb.rows)) if (n > 1) differences.push({ key: `${show(k)} (×${n} in target)`, kind: 'extra in target' });
        for (const [k, n] of perKey(ra.rows)) if (n > 1) differences.push({ key: `${show(k)} (×${n} in source)`, kind: 'missing in target' });
      } else {
        // Multisets of whole rows: a row hash occurring more often on one side is missing on the other.
        const countA = new Map(ra.rows.map((r) => [r.k, r.n]));
        const countB = new Map(rb.rows.map((r) => [r.k, r.n]));
        for (const k of new Set([...countA.keys(), ...countB.keys()])) {
          const d = (countA.get(k) ?? 0) - (countB.get(k) ?? 0);
          if (d > 0) differences.push({ key: `row hash ${k} ×${d}`, kind: 'missing in target' });
          if (d < 0) differences.push({ key: `row hash ${k} ×${-d}`, kind: 'extra in target' });
        }
      }
    }
    differences.sort((x, y) => x.key.localeCompare(y.key));
    const native = [...plan.opts.entries()].filter(([n, o]) => !o.text && hashesNatively(ca.get(n)!)).length;
    return {
      equal: differing.length === 0 && columnDifferences.length === 0,
      sourceRows,
      targetRows,
      buckets: 1 << BUCKET_BITS,
      hashing: `by column name: ${native} column(s) by value, ${plan.opts.size - native} by canonical text`,
      columnDifferences,
      differingBuckets: differing.length,
      differences: differences.slice(0, MAX_REPORTED),
      truncated: differences.length > MAX_REPORTED || differing.length > MAX_BUCKETS_TO_BISECT,
      matchedBy: plan.key ? plan.key.map((c) => c.name) : 'whole rows',
    };
  } finally {
    await a.end().catch(() => undefined);
    await b.end().catch(() => undefined);
  }
}

/** A difference found by key, before the key is put into words. */
type Keyed = { k: string; kind: Difference['kind']; columns?: string[] };

/** For the first changed rows, which columns differ: their per-column hashes from the bucket scan, side by side. */
function explainChanged(source: { k: string; ch?: string[] }[], target: { k: string; ch?: string[] }[], plan: Plan, differences: Keyed[]): void {
  const inSource = new Map(source.map((r) => [r.k, r.ch]));
  const inTarget = new Map(target.map((r) => [r.k, r.ch]));
  for (const d of differences.filter((x) => x.kind === 'changed').slice(0, MAX_EXPLAINED)) {
    const [a, b] = [inSource.get(d.k), inTarget.get(d.k)];
    if (a && b) d.columns = plan.columns.filter((_, i) => a[i] !== b[i]).map((c) => `${c.name} (${c.type})`);
  }
}
