import type pg from 'pg';
import { qdrantClient } from '../stores/qdrant/client';
import { quoteIdent } from '../stores/postgres/sql';

export type Verdict = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

export interface Check {
  group: 'counts' | 'foreign keys' | 'freshness' | 'ranges' | 'embeddings' | 'layout' | 'compression' | 'aggregates';
  name: string;
  verdict: Verdict;
  detail: string;
}

const exists = async (c: pg.ClientBase, table: string) => Boolean((await c.query('SELECT to_regclass($1) IS NOT NULL AS ok', [table])).rows[0]?.ok);
const scalar = async (c: pg.ClientBase, sql: string): Promise<string | null> => (await c.query(sql)).rows[0]?.v ?? null;

/** Row counts of the tables present on both sides. */
export async function countChecks(source: pg.ClientBase, target: pg.ClientBase, tables: string[]): Promise<Check[]> {
  const out: Check[] = [];
  for (const table of tables) {
    if (!(await exists(source, table)) || !(await exists(target, table))) {
      out.push({ group: 'counts', name: `${table} count vs source`, verdict: 'SKIP', detail: 'not on both sides' });
      continue;
    }
    const [a, b] = await Promise.all([scalar(source, `SELECT count(*)::text AS v FROM ${table}`), scalar(target, `SELECT count(*)::text AS v FROM ${table}`)]);
    out.push({ group: 'counts', name: `${table} count vs source`, verdict: a === b ? 'PASS' : 'FAIL', detail: `source ${a}, target ${b}` });
  }
  return out;
}

/** Every foreign key in the database, checked for orphans (NOT VALID keys can hide them). */
export async function foreignKeyChecks(c: pg.ClientBase): Promise<Check[]> {
  const { rows } = await c.query<{ name: string; child: string; parent: string; ccols: string[]; pcols: string[] }>(
    `SELECT con.conname AS name, con.conrelid::regclass::text AS child, con.confrelid::regclass::text AS parent,
            (SELECT array_agg(attname::text ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n) AS ccols,
            (SELECT array_agg(attname::text ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n) AS pcols
       FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
      WHERE con.contype = 'f' AND n.nspname NOT IN ('tickvault', 'pg_catalog') ORDER BY 1`,
  );
  const out: Check[] = [];
  for (const fk of rows) {
    const on = fk.ccols.map((col, i) => `p.${quoteIdent(fk.pcols[i]!)} = c.${quoteIdent(col)}`).join(' AND ');
    const orphans = await scalar(c, `SELECT count(*)::text AS v FROM ${fk.child} c WHERE ${fk.ccols.map((col) => `c.${quoteIdent(col)} IS NOT NULL`).join(' AND ')} AND NOT EXISTS (SELECT 1 FROM ${fk.parent} p WHERE ${on})`);
    out.push({ group: 'foreign keys', name: `${fk.child} → ${fk.parent}`, verdict: orphans === '0' ? 'PASS' : 'FAIL', detail: `${orphans} orphan(s) (${fk.name})` });
  }
  return out;
}

/** Seed 003 phase 8: DXY 1m fresh within 5 min (PASS) or 10 min (WARN); 5m within 10 min. */
export async function freshnessChecks(c: pg.ClientBase, now: Date): Promise<Check[]> {
  const staleness = async (sql: string) => {
    const v = await scalar(c, sql);
    return v === null ? null : (now.getTime() - Date.parse(v)) / 60_000;
  };
  const out: Check[] = [];
  const oneMinute = (await exists(c, 'public.data_bars')) ? await staleness("SELECT max(ts_utc)::text AS v FROM data_bars WHERE canonical_symbol = 'DXY' AND timeframe = '1m'") : null;
  const oneMinuteDerived = oneMinute === null && (await exists(c, 'public.derived_data_bars')) ? await staleness("SELECT max(ts_utc)::text AS v FROM derived_data_bars WHERE canonical_symbol = 'DXY' AND timeframe = '1m' AND deleted_at IS NULL") : null;
  const m1 = oneMinute ?? oneMinuteDerived;
  out.push(m1 === null ? { group: 'freshness', name: 'DXY 1m freshness', verdict: 'SKIP', detail: 'no DXY 1m bars' } : { group: 'freshness', name: 'DXY 1m freshness', verdict: m1 < 5 ? 'PASS' : m1 < 10 ? 'WARN' : 'FAIL', detail: `${m1.toFixed(1)} min stale` });
  const m5 = (await exists(c, 'public.derived_data_bars')) ? await staleness("SELECT max(ts_utc)::text AS v FROM derived_data_bars WHERE canonical_symbol = 'DXY' AND timeframe = '5m' AND deleted_at IS NULL") : null;
  out.push(m5 === null ? { group: 'freshness', name: 'DXY 5m aggregation', verdict: 'SKIP', detail: 'no DXY 5m bars' } : { group: 'freshness', name: 'DXY 5m aggregation', verdict: m5 < 10 ? 'PASS' : 'WARN', detail: `${m5.toFixed(1)} min stale` });
  if (await exists(c, 'public.tick_data')) {
    const t = await staleness('SELECT max(ts)::text AS v FROM tick_data');
    out.push({ group: 'freshness', name: 'tick_data freshness', verdict: t === null ? 'FAIL' : t < 5 ? 'PASS' : t < 60 ? 'WARN' : 'FAIL', detail: t === null ? 'no ticks' : `${t.toFixed(1)} min stale` });
  }
  return out;
}

/** Seed 003 phase 6: DXY between 80 and 120; prices positive. */
export async function rangeChecks(c: pg.ClientBase): Promise<Check[]> {
  const out: Check[] = [];
  for (const table of ['data_bars', 'derived_data_bars']) {
    if (!(await exists(c, `public.${table}`))) continue;
    const { rows } = await c.query<{ n: string; lo: string | null; hi: string | null }>(`SELECT count(*) FILTER (WHERE close NOT BETWEEN 80 AND 120)::text AS n, min(close)::text AS lo, max(close)::text AS hi FROM ${table} WHERE canonical_symbol = 'DXY'${table === 'derived_data_bars' ? ' AND deleted_at IS NULL' : ''}`);
    const r = rows[0]!;
    if (r.lo === null) continue;
    out.push({ group: 'ranges', name: `DXY in 80-120 (${table})`, verdict: r.n === '0' ? 'PASS' : 'FAIL', detail: `min ${r.lo}, max ${r.hi}, ${r.n} outside` });
  }
  if (await exists(c, 'public.tick_data')) {
    const bad = await scalar(c, 'SELECT count(*)::text AS v FROM tick_data WHERE price <= 0 OR volume < 0');
    out.push({ group: 'ranges', name: 'tick prices and volumes positive', verdict: bad === '0' ? 'PASS' : 'FAIL', detail: `${bad} bad rows` });
  }
  return out;
}

/** Seed 004: tick_data as a hypertable (or at least partitioned). */
export async function layoutChecks(c: pg.ClientBase): Promise<Check[]> {
  if (!(await exists(c, 'public.tick_data'))) return [];
  const hypertable = (await exists(c, 'timescaledb_information.hypertables')) && (await scalar(c, "SELECT count(*)::text AS v FROM timescaledb_information.hypertables WHERE hypertable_name = 'tick_data'")) === '1';
  const partitioned = (await scalar(c, "SELECT count(*)::text AS v FROM pg_partitioned_table WHERE partrelid = 'public.tick_data'::regclass")) === '1';
  return [{ group: 'layout', name: 'tick_data time-partitioned', verdict: hypertable || partitioned ? 'PASS' : 'WARN', detail: hypertable ? 'hypertable' : partitioned ? 'native range partitions' : 'plain table' }];
}

/** Seed 004: one embedding per trade (Qdrant points vs trades rows). */
export async function embeddingChecks(c: pg.ClientBase, qdrant: { url: string; apiKey?: string } | undefined, collection: string): Promise<Check[]> {
  if (!qdrant) return [{ group: 'embeddings', name: `${collection} embedding coverage`, verdict: 'SKIP', detail: 'QDRANT_URL not set' }];
  if (!(await exists(c, 'public.trades'))) return [];
  const trades = Number(await scalar(c, 'SELECT count(*)::text AS v FROM trades'));
  const points = (await qdrantClient(qdrant).count(collection, { exact: true })).count;
  return [{ group: 'embeddings', name: `${collection} embedding coverage`, verdict: points === trades ? 'PASS' : points < trades ? 'FAIL' : 'WARN', detail: `${points} points for ${trades} trades` }];
}

