/**
 * Adversarial review of runbooks/verify/compare.ts + row-hash.ts: cases the
 * comparison gets RIGHT on real PostgreSQL (these pass), kept as regression
 * tests because no existing test covers them. Two databases; the target's
 * session defaults are hostile (DateStyle, extra_float_digits, TimeZone,
 * IntervalStyle, bytea_output, search_path, lc_monetary set per database)
 * so every "equal" below also holds against client settings.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { compareTables } from '../../runbooks/verify/compare';
import { createDatabase, query } from '../helpers/databases';

const stack = inject('stack');
let source: string;
let target: string;

interface Case {
  name: string;
  /** %t is replaced by this case's table name (types: %t_type). */
  source: string;
  target: string;
  equal: boolean;
  opts?: { key?: string[]; columns?: string[] };
  /** Extra checks on the result. */
  check?: (r: Awaited<ReturnType<typeof compareTables>>) => void;
}

const tbl = (cols: string, rows: string) => `CREATE TABLE %t (${cols}); INSERT INTO %t VALUES ${rows}`;
const same = (name: string, cols: string, a: string, b: string, equal: boolean, check?: Case['check']): Case => ({ name, source: tbl(cols, a), target: tbl(cols, b), equal, check });
const CI = "CREATE COLLATION IF NOT EXISTS ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)";

const cases: Case[] = [
  // --- different values: must be reported different ---
  same('float8 Infinity vs -Infinity', 'id int PRIMARY KEY, v float8', "(1, 'Infinity')", "(1, '-Infinity')", false),
  same('float8 NaN vs Infinity', 'id int PRIMARY KEY, v float8', "(1, 'NaN')", "(1, 'Infinity')", false),
  same('float4 0.1 vs 0.10000001 (neighbouring floats)', 'id int PRIMARY KEY, v real', '(1, 0.1)', "(1, '0.10000001')", false),
  same('float8 1 ulp apart', 'id int PRIMARY KEY, v float8', "(1, 0.1)", "(1, '0.10000000000000002')", false),
  same('text trailing space', 'id int PRIMARY KEY, v text', "(1, 'a')", "(1, 'a ')", false),
  same('text NFC é vs NFD e + U+0301', 'id int PRIMARY KEY, v text', "(1, U&'\\00E9')", "(1, U&'e\\0301')", false),
  { name: 'case-insensitive collation: ABC vs abc', source: `${CI}; ${tbl('id int PRIMARY KEY, v text COLLATE ci', "(1, 'ABC')")}`, target: `${CI}; ${tbl('id int PRIMARY KEY, v text COLLATE ci', "(1, 'abc')")}`, equal: false },
  { name: 'case-insensitive collation KEY: ABC vs abc (missing + extra)', source: `${CI}; ${tbl('k text COLLATE ci PRIMARY KEY, v int', "('ABC', 1)")}`, target: `${CI}; ${tbl('k text COLLATE ci PRIMARY KEY, v int', "('abc', 1)")}`, equal: false, check: (r) => expect(r.differences.map((d) => d.kind).sort()).toEqual(['extra in target', 'missing in target']) },
  same('json keeps text: key order', 'id int PRIMARY KEY, v json', `(1, '{"a":1,"b":2}')`, `(1, '{"b":2,"a":1}')`, false),
  same('jsonb 1.0 vs 1.00 inside (documented: by text)', 'id int PRIMARY KEY, v jsonb', `(1, '{"a":1.0}')`, `(1, '{"a":1.00}')`, false),
  same('array NULL vs {}', 'id int PRIMARY KEY, v int[]', '(1, NULL)', "(1, '{}')", false),
  same('array {} vs {NULL}', 'id int PRIMARY KEY, v int[]', "(1, '{}')", "(1, '{NULL}')", false),
  same('text[] {"NULL"} vs {NULL}', 'id int PRIMARY KEY, v text[]', `(1, '{"NULL"}')`, "(1, '{NULL}')", false),
  same('array -0 vs 0 inside (documented: by text)', 'id int PRIMARY KEY, v float8[]', "(1, '{-0}')", "(1, '{0}')", false),
  same("empty string vs NULL", 'id int PRIMARY KEY, v text', "(1, '')", '(1, NULL)', false),
  same('0 vs NULL', 'id int PRIMARY KEY, v int', '(1, 0)', '(1, NULL)', false),
  same('false vs NULL', 'id int PRIMARY KEY, v bool', '(1, false)', '(1, NULL)', false),
  { name: 'composite (1,a) vs (1,b)', source: `CREATE TYPE %t_type AS (x int, y text); ${tbl('id int PRIMARY KEY, v %t_type', "(1, '(1,a)')")}`, target: `CREATE TYPE %t_type AS (x int, y text); ${tbl('id int PRIMARY KEY, v %t_type', "(1, '(1,b)')")}`, equal: false },
  { name: 'composite NULL vs (,)', source: `CREATE TYPE %t_type AS (x int, y text); ${tbl('id int PRIMARY KEY, v %t_type', '(1, NULL)')}`, target: `CREATE TYPE %t_type AS (x int, y text); ${tbl('id int PRIMARY KEY, v %t_type', "(1, '(,)')")}`, equal: false },
  same('numrange [1,3) vs [1,3]', 'id int PRIMARY KEY, v numrange', "(1, '[1,3)')", "(1, '[1,3]')", false),
  same('bytea \\x00 vs \\x0000', 'id int PRIMARY KEY, v bytea', "(1, '\\x00')", "(1, '\\x0000')", false),
  same("interval '1 day' vs '24 hours' (documented: by text)", 'id int PRIMARY KEY, v interval', "(1, '1 day')", "(1, '24 hours')", false),
  { name: 'domain over numeric: 1 vs 2', source: `CREATE DOMAIN %t_type AS numeric CHECK (VALUE > 0); ${tbl('id int PRIMARY KEY, v %t_type', '(1, 1)')}`, target: `CREATE DOMAIN %t_type AS numeric CHECK (VALUE > 0); ${tbl('id int PRIMARY KEY, v %t_type', '(1, 2)')}`, equal: false },
  { name: 'enum label a vs b', source: `CREATE TYPE %t_type AS ENUM ('a', 'b'); ${tbl('id int PRIMARY KEY, v %t_type', "(1, 'a')")}`, target: `CREATE TYPE %t_type AS ENUM ('a', 'b'); ${tbl('id int PRIMARY KEY, v %t_type', "(1, 'b')")}`, equal: false },
  same('keyless multiset: 2×A + 0×B vs 1×A + 1×B', 'a int, b text', "(1, 'x'), (1, 'x')", "(1, 'x'), (2, 'y')", false),
  same('keyless multiset: 2×A vs 3×A', 'a int, b text', "(1, 'x'), (1, 'x')", "(1, 'x'), (1, 'x'), (1, 'x')", false),
  { name: 'extra column in target (all NULL)', source: tbl('id int PRIMARY KEY, a text', "(1, 'x')"), target: tbl('id int PRIMARY KEY, a text, c int', "(1, 'x', NULL)"), equal: false, check: (r) => expect(r.columnDifferences).toHaveLength(1) },
  { name: 'column missing in target', source: tbl('id int PRIMARY KEY, a text, c int', "(1, 'x', NULL)"), target: tbl('id int PRIMARY KEY, a text', "(1, 'x')"), equal: false, check: (r) => expect(r.columnDifferences).toHaveLength(1) },
  { name: 'column renamed only in case (c vs "C")', source: tbl('id int PRIMARY KEY, c int', '(1, 1)'), target: tbl('id int PRIMARY KEY, "C" int', '(1, 1)'), equal: false },
  { name: 'generated column holding a different value than its expression gives', source: 'CREATE TABLE %t (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED); INSERT INTO %t (id, a) VALUES (1, 2)', target: tbl('id int PRIMARY KEY, a int, g int', '(1, 2, 5)'), equal: false },
  same("text key 'a' vs 'a ', 'B' vs 'b' (missing + extra each)", 'k text PRIMARY KEY, v int', "('a', 1), ('B', 2)", "('a ', 1), ('b', 2)", false, (r) => expect(r.differences.map((d) => `${d.kind}:${d.key}`).sort()).toEqual(['extra in target:a ', 'extra in target:b', 'missing in target:B', 'missing in target:a'])),
  same('duplicate key in target without a constraint', 'id int, v int', '(1, 1), (2, 2)', '(1, 1), (1, 1), (2, 2)', false),
  { name: 'two rows swapping values across segments (the common case)', source: tbl('id int PRIMARY KEY, v int', '(1, 10), (2, 20)'), target: tbl('id int PRIMARY KEY, v int', '(1, 20), (2, 10)'), equal: false },

  // --- the same data: must be reported equal ---
  same('float8 -0 vs 0 (documented: equal)', 'id int PRIMARY KEY, v float8', "(1, '-0')", '(1, 0)', true),
  same('float8 NaN vs NaN', 'id int PRIMARY KEY, v float8', "(1, 'NaN'), (2, 'Infinity')", "(1, 'NaN'), (2, 'Infinity')", true),
  same("char(5) 'ab' vs 'ab   ' (the same char value)", 'id int PRIMARY KEY, v char(5)', "(1, 'ab')", "(1, 'ab   ')", true),
  { name: "char(5) vs char(3) holding 'ab'", source: tbl('id int PRIMARY KEY, v char(5)', "(1, 'ab')"), target: tbl('id int PRIMARY KEY, v char(3)', "(1, 'ab')"), equal: true },
  same('jsonb key order (jsonb normalises)', 'id int PRIMARY KEY, v jsonb', `(1, '{"a":1,"b":2}')`, `(1, '{"b":2,"a":1}')`, true),
  same('int4range [1,3) vs [1,2] (canonical)', 'id int PRIMARY KEY, v int4range', "(1, '[1,3)')", "(1, '[1,2]')", true),
  { name: 'timestamptz written in two session time zones (same instant)', source: "SET TIME ZONE 'Asia/Tokyo'; " + tbl('id int PRIMARY KEY, v timestamptz', "(1, '2026-01-01 09:00')"), target: "SET TIME ZONE 'America/New_York'; " + tbl('id int PRIMARY KEY, v timestamptz', "(1, '2025-12-31 19:00')"), equal: true },
  { name: 'enum: same labels, different sort order', source: `CREATE TYPE %t_type AS ENUM ('a', 'b'); ${tbl('id int PRIMARY KEY, v %t_type', "(1, 'a'), (2, 'b')")}`, target: `CREATE TYPE %t_type AS ENUM ('b', 'a'); ${tbl('id int PRIMARY KEY, v %t_type', "(1, 'a'), (2, 'b')")}`, equal: true },
  same('keyless multiset: same duplicates, other order', 'a int, b text', "(1, 'x'), (1, 'x'), (2, 'y')", "(2, 'y'), (1, 'x'), (1, 'x')", true),
  { name: 'column order differs', source: tbl('id int PRIMARY KEY, a text, b float8, c int[]', "(1, 'x', 0.1, '{1,NULL}')"), target: 'CREATE TABLE %t (c int[], b float8, a text, id int PRIMARY KEY); INSERT INTO %t VALUES (\'{1,NULL}\', 0.1, \'x\', 1)', equal: true },
  { name: 'dropped column on the source (attisdropped)', source: "CREATE TABLE %t (id int PRIMARY KEY, z int, a text); INSERT INTO %t VALUES (1, 99, 'x'); ALTER TABLE %t DROP COLUMN z", target: tbl('id int PRIMARY KEY, a text', "(1, 'x')"), equal: true },
  { name: 'generated column vs plain column with the same values', source: 'CREATE TABLE %t (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED); INSERT INTO %t (id, a) VALUES (1, 2)', target: tbl('id int PRIMARY KEY, a int, g int', '(1, 2, 4)'), equal: true },
  {
    name: 'partitioned (2 partitions) vs plain table with fillfactor 50 and EXTERNAL storage',
    source: "CREATE TABLE %t (id int, ts date, v text, PRIMARY KEY (id, ts)) PARTITION BY RANGE (ts); CREATE TABLE %t_1 PARTITION OF %t FOR VALUES FROM ('2026-01-01') TO ('2026-02-01'); CREATE TABLE %t_2 PARTITION OF %t FOR VALUES FROM ('2026-02-01') TO ('2026-03-01'); INSERT INTO %t SELECT i, '2026-01-01'::date + (i % 50), repeat('x', i * 40) FROM generate_series(1, 200) i",
    target: "CREATE TABLE %t (v text, ts date, id int, PRIMARY KEY (id, ts)) WITH (fillfactor = 50); ALTER TABLE %t ALTER COLUMN v SET STORAGE EXTERNAL; INSERT INTO %t (id, ts, v) SELECT i, '2026-01-01'::date + (i % 50), repeat('x', i * 40) FROM generate_series(200, 1, -1) i",
    equal: true,
  },
  {
    name: 'hypertable (chunks) vs plain table',
    source: "CREATE EXTENSION IF NOT EXISTS timescaledb; CREATE TABLE %t (ts timestamptz NOT NULL, sym text, px float8); SELECT create_hypertable('%t', 'ts', chunk_time_interval => interval '1 day'); INSERT INTO %t SELECT '2026-01-01'::timestamptz + i * interval '5 hours', 's' || i % 3, i / 7.0 FROM generate_series(1, 100) i",
    target: "CREATE TABLE %t (ts timestamptz NOT NULL, sym text, px float8); INSERT INTO %t SELECT '2026-01-01'::timestamptz + i * interval '5 hours', 's' || i % 3, i / 7.0 FROM generate_series(1, 100) i",
    equal: true,
    check: (r) => expect(r.sourceRows).toBe(100),
  },
  { name: 'inheritance: rows in a child on the source, in the parent on the target', source: 'CREATE TABLE %t (id int, v text); CREATE TABLE %t_child () INHERITS (%t); INSERT INTO %t VALUES (1, \'a\'); INSERT INTO %t_child VALUES (2, \'b\')', target: tbl('id int, v text', "(1, 'a'), (2, 'b')"), equal: true },
  { name: 'case-insensitive collation on the target only, same bytes', source: tbl('id int PRIMARY KEY, v text', "(1, 'ABC'), (2, 'abc')"), target: `${CI}; ${tbl('id int PRIMARY KEY, v text COLLATE ci', "(1, 'ABC'), (2, 'abc')")}`, equal: true },
  { name: 'int4 vs int8 key and numeric(18,2) vs numeric(20,8)', source: tbl('id int PRIMARY KEY, p numeric(18,2)', '(1, 1.5), (2, NULL)'), target: tbl('id bigint PRIMARY KEY, p numeric(20,8)', '(1, 1.5), (2, NULL)'), equal: true },
  { name: 'float4 0.1 vs float8 0.1', source: tbl('id int PRIMARY KEY, v real', '(1, 0.1)'), target: tbl('id int PRIMARY KEY, v float8', '(1, 0.1)'), equal: true },
  {
    name: 'every kind of value, target read under hostile database defaults',
    source: tbl('id int PRIMARY KEY, ts timestamptz, tt timestamp, d date, f float8, r real, i interval, b bytea, n numeric, j jsonb, a float8[], m money, tz timetz', "(1, '2026-01-02T03:04:05.123456+00', '2026-01-02T03:04:05', '2026-01-02', 1/3.0, 0.1, '1 day 2 hours 3.5 seconds', '\\xdeadbeef', 1.5, '{\"x\":[0.1, 1e100]}', '{0.1,0.30000000000000004}', 12.34, '10:00+05')"),
    target: tbl('id int PRIMARY KEY, ts timestamptz, tt timestamp, d date, f float8, r real, i interval, b bytea, n numeric, j jsonb, a float8[], m money, tz timetz', "(1, '2026-01-02T03:04:05.123456+00', '2026-01-02T03:04:05', '2026-01-02', 1/3.0, 0.1, '1 day 2 hours 3.5 seconds', '\\xdeadbeef', 1.5, '{\"x\":[0.1, 1e100]}', '{0.1,0.30000000000000004}', 12.34, '10:00+05')"),
    equal: true,
  },
];

const tableOf = (i: number) => `adv_${String(i).padStart(2, '0')}`;

beforeAll(async () => {
  [source, target] = await Promise.all([createDatabase(stack.postgresUrl, 'advok_src'), createDatabase(stack.postgresUrl, 'advok_dst')]);
  for (const [i, c] of cases.entries()) {
    const sql = (s: string) => s.replaceAll('%t', tableOf(i));
    await query(source, sql(c.source));
    await query(target, sql(c.target));
  }
  // Hostile per-database session defaults on the target (compare.ts must normalise them).
  const db = new URL(target).pathname.slice(1);
  for (const [k, v] of Object.entries({ datestyle: 'SQL, DMY', extra_float_digits: '-3', timezone: 'Pacific/Chatham', intervalstyle: 'sql_standard', bytea_output: 'escape', search_path: 'nowhere', lc_monetary: 'C' })) {
    await query(target, `ALTER DATABASE ${db} SET ${k} = '${v}'`);
  }
});

describe('compareTables verdicts the code gets right', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))('%s', async (_name, i) => {
    const c = cases[i]!;
    const table = { schema: 'public', name: tableOf(i) };
    const r = await compareTables({ url: source, table }, { url: target, table }, c.opts);
    expect(r.equal, JSON.stringify({ differences: r.differences, columns: r.columnDifferences })).toBe(c.equal);
    c.check?.(r);
  });
});
