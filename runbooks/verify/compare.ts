import type pg from 'pg';
import { ConfigError } from '../engine/errors';
import { connectBoth } from '../stores/postgres/connect';
import { NORMALISE_SESSION, qualify, tableLabel, type TableName } from '../stores/postgres/sql';
import { columnValue, hashColumns, hashesNatively, type HashColumn, type ValueOptions } from './row-hash';

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
  /** The key's canonical text (columns joined by |); without a key, the row's hash and how many times it occurs. */
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
  columns: HashColumn[];
  opts: Map<string, ValueOptions>;
}

function hashedRows(side: Side, cols: Map<string, HashColumn>, plan: Plan, withKey = false): string {
  const value = (c: HashColumn, text = false) => columnValue(ALIAS, cols.get(c.name)!, { ...plan.opts.get(c.name), ...(text ? { text: true } : {}) });
  const row = (list: HashColumn[]) => (list.length ? `hash_record_extended(ROW(${list.map((c) => value(c)).join(', ')}), 0)` : '0::bigint');
  const rh = row(plan.columns);
  const kh = plan.key ? row(plan.key) : rh;
  const keyText = plan.key ? `concat_ws('|', ${plan.key.map((c) => `coalesce(${value(c, true)}, '\\N')`).join(', ')})` : `${rh}::text`;
  // With the key, each column's own hash too: which columns of a changed row differ, without another scan.
  // (The caller's bucket filter runs first, so only rows of differing buckets compute these.)
  const columnHashes = plan.key ? `, ARRAY[${plan.columns.map((c) => `hash_record_extended(ROW(${value(c)}), 0)::text`).join(', ')}]::text[] AS ch` : '';
  return `SELECT ${withKey ? `${keyText} AS k, ` : ''}${kh} AS kh, ${rh} AS rh${withKey ? columnHashes : ''} FROM ${rowsOf(side)}`;
}

/** Refuse a --key that does not identify rows: "0 differing rows" on duplicates would be a lie. */
async function assertUnique(client: pg.ClientBase, side: Side, cols: Map<string, HashColumn>, key: HashColumn[], label: string): Promise<void> {
  const keyText = key.map((c) => `coalesce(${columnValue(ALIAS, cols.get(c.name)!, { text: true })}, '\\N')`).join(', ');
  const { rows } = await client.query<{ k: string; n: string }>(
    `SELECT concat_ws('|', ${keyText}) AS k, count(*)::text AS n FROM ${rowsOf(side)}
      GROUP BY 1 HAVING count(*) > 1 LIMIT 3`,
  );
  if (rows.length) throw new ConfigError(`--key ${key.map((c) => c.name).join(',')} is not unique in the ${label} ${tableLabel(side.table)}: e.g. ${rows.map((r) => `"${r.k}" ×${r.n}`).join(', ')}`, { hint: 'pass key columns that identify one row each, or omit --key on a table without a primary key to compare whole rows' });
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
    if (opts.columns?.length) names = [...opts.columns].sort();
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
    const plan: Plan = {
      key: keyNames.length ? keyNames.map((n) => ca.get(n)!) : null,
      columns: names.map((n) => ca.get(n)!),
      opts: new Map([...new Set([...keyNames, ...names])].map((n) => [n, valueOptions(ca.get(n)!, cb.get(n)!)])),
    };
    if (plan.key && opts.key?.length) await Promise.all([assertUnique(a, source, ca, plan.key, 'source'), assertUnique(b, target, cb, plan.key, 'target')]);

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
        for (const [k, h] of rowsA) {
          if (!rowsB.has(k)) differences.push({ key: k, kind: 'missing in target' });
          else if (rowsB.get(k) !== h) differences.push({ key: k, kind: 'changed' });
        }
        for (const k of rowsB.keys()) if (!rowsA.has(k)) differences.push({ key: k, kind: 'extra in target' });
        // A key that is not unique on one side (no constraint there) shows up as a duplicate, never as "equal".
        for (const r of rb.rows) if (r.n > 1) differences.push({ key: `${r.k} (×${r.n} in target)`, kind: 'extra in target' });
        for (const r of ra.rows) if (r.n > 1) differences.push({ key: `${r.k} (×${r.n} in source)`, kind: 'missing in target' });
        explainChanged(ra.rows, rb.rows, plan, differences);
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

/** For the first changed rows, which columns differ: their per-column hashes from the bucket scan, side by side. */
function explainChanged(source: { k: string; ch?: string[] }[], target: { k: string; ch?: string[] }[], plan: Plan, differences: Difference[]): void {
  const inSource = new Map(source.map((r) => [r.k, r.ch]));
  const inTarget = new Map(target.map((r) => [r.k, r.ch]));
  for (const d of differences.filter((x) => x.kind === 'changed').slice(0, MAX_EXPLAINED)) {
    const [a, b] = [inSource.get(d.key), inTarget.get(d.key)];
    if (a && b) d.columns = plan.columns.filter((_, i) => a[i] !== b[i]).map((c) => `${c.name} (${c.type})`);
  }
}
