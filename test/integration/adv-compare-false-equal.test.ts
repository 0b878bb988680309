/**
 * Adversarial review of runbooks/verify/compare.ts + row-hash.ts: tables that
 * hold DIFFERENT data but are reported "equal". Every test here fails on the
 * code it was written against (branch adv-compare, base 9e85307): each is a
 * wrong "equal/verified" verdict.
 */
import { describe, expect, inject, it } from 'vitest';
import { compareTables } from '../../runbooks/verify/compare';
import { createDatabase, databasePair, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const t = { schema: 'public', name: 't' };

const pair = (sourceSql: string, targetSql: string) => databasePair(stack.postgresUrl, 'advfe', sourceSql, targetSql);

/**
 * A second key in the same segment as key 1 (compare.ts buckets by
 * hash_record_extended(ROW(key), 0) & 1023) for which swapping v between the
 * two rows leaves the segment's sum(row hash) unchanged as an integer.
 * hash_record_extended combines column hashes linearly (h = 31*h + h_col),
 * so the sum mod 2^64 is ALWAYS unchanged by such a swap; most pairs also
 * keep the integer sum. Searched in SQL, not hard-coded.
 */
async function collidingKey(url: string, v1: number, v2: number): Promise<number> {
  const rows = await query<{ k: number }>(
    url,
    `SELECT k FROM generate_series(2, 200000) k
      WHERE (hash_record_extended(ROW(k::int4), 0) & 1023) = (hash_record_extended(ROW(1::int4), 0) & 1023)
        AND hash_record_extended(ROW(1::int4, $1::int4), 0)::numeric + hash_record_extended(ROW(k::int4, $2::int4), 0)
          = hash_record_extended(ROW(1::int4, $2::int4), 0)::numeric + hash_record_extended(ROW(k::int4, $1::int4), 0)
      ORDER BY k LIMIT 1`,
    [v1, v2],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.k;
}

describe('false "equal": the segment hash is a sum of LINEAR row hashes', () => {
  it('two rows of a keyed table swap a value: reported equal', async () => {
    const [a, b] = await pair('CREATE TABLE t (id int PRIMARY KEY, balance int)', 'CREATE TABLE t (id int PRIMARY KEY, balance int)');
    const k = await collidingKey(a, 100, 999999);
    await query(a, 'INSERT INTO t VALUES (1, 100), ($1, 999999)', [k]);
    await query(b, 'INSERT INTO t VALUES (1, 999999), ($1, 100)', [k]); // the balances of accounts 1 and k are swapped
    // Independent check: the tables differ.
    expect(await query(b, 'SELECT balance FROM t WHERE id = 1')).toEqual([{ balance: 999999 }]);
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal, `swap between id 1 and id ${k} not detected`).toBe(false);
  });

  it('--columns without the key columns: any swap of values between two keys of a segment is invisible', async () => {
    const [a, b] = await pair('CREATE TABLE t (id int PRIMARY KEY, owner text)', 'CREATE TABLE t (id int PRIMARY KEY, owner text)');
    const [{ k }] = await query<{ k: number }>(a, `SELECT k FROM generate_series(2, 100000) k WHERE (hash_record_extended(ROW(k::int4), 0) & 1023) = (hash_record_extended(ROW(1::int4), 0) & 1023) ORDER BY k LIMIT 1`) as [{ k: number }];
    await query(a, "INSERT INTO t VALUES (1, 'alice'), ($1, 'mallory')", [k]);
    await query(b, "INSERT INTO t VALUES (1, 'mallory'), ($1, 'alice')", [k]);
    const r = await compareTables({ url: a, table: t }, { url: b, table: t }, { columns: ['owner'] });
    expect(r.equal, `owners of id 1 and id ${k} swapped, compared with --columns owner`).toBe(false);
  });

  it('keyless table (multiset): {(a,NULL),(NULL,b)} vs {(a,b),(NULL,NULL)} reported equal', async () => {
    const [a, b] = await pair('CREATE TABLE t (x int, y int)', 'CREATE TABLE t (x int, y int)');
    // x, y whose rows all fall in segment 0 and whose row hashes add up without overflow:
    // hash(ROW(x,NULL)) + hash(ROW(NULL,y)) = hash(ROW(x,y)) + hash(ROW(NULL,NULL)) [= 0].
    const found = await query<{ x: number; y: number }>(
      a,
      `WITH c AS (SELECT k FROM generate_series(1, 20000) k WHERE hash_record_extended(ROW(k::int4), 0) & 1023 = 0)
       SELECT p.k AS x, q.k AS y FROM c p, c q
        WHERE hash_record_extended(ROW(p.k::int4, NULL::int4), 0)::numeric + hash_record_extended(ROW(NULL::int4, q.k::int4), 0) = hash_record_extended(ROW(p.k::int4, q.k::int4), 0)::numeric
          AND hash_record_extended(ROW(p.k::int4, NULL::int4), 0) & 1023 = 0 AND hash_record_extended(ROW(p.k::int4, q.k::int4), 0) & 1023 = 0
        ORDER BY 1, 2 LIMIT 1`,
    );
    expect(found).toHaveLength(1);
    const { x, y } = found[0]!;
    await query(a, 'INSERT INTO t VALUES ($1, NULL), (NULL, $2)', [x, y]);
    await query(b, 'INSERT INTO t VALUES ($1, $2), (NULL, NULL)', [x, y]);
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal, `rows (${x},NULL),(NULL,${y}) vs (${x},${y}),(NULL,NULL)`).toBe(false);
  });
});

describe('false "equal": a float column against a numeric column', () => {
  // row-hash.ts canonicalText: trim_scale(float::numeric) — float8->numeric keeps only 15 significant
  // digits (DBL_DIG), float4->numeric only 6 (FLT_DIG), so different values print the same.
  it('real 123456.7 vs numeric 123457, real 1.0000001 vs numeric 1: reported equal', async () => {
    const [a, b] = await pair(
      'CREATE TABLE t (id int PRIMARY KEY, price real); INSERT INTO t VALUES (1, 123456.7), (2, 1.0000001)',
      'CREATE TABLE t (id int PRIMARY KEY, price numeric); INSERT INTO t VALUES (1, 123457), (2, 1)',
    );
    // Independent: PostgreSQL itself says they differ (real -> double -> numeric exactly).
    expect(await query(a, 'SELECT count(*)::int AS n FROM t WHERE (id = 1 AND price::float8 <> 123457) OR (id = 2 AND price::float8 <> 1)')).toEqual([{ n: 2 }]);
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal).toBe(false);
  });

  it('double 0.1+0.2 (0.30000000000000004) and 123456789012345678 vs numeric 0.3 and 123456789012346000: reported equal', async () => {
    const [a, b] = await pair(
      'CREATE TABLE t (id int PRIMARY KEY, amount float8); INSERT INTO t VALUES (1, 0.1::float8 + 0.2::float8), (2, 123456789012345678)',
      'CREATE TABLE t (id int PRIMARY KEY, amount numeric); INSERT INTO t VALUES (1, 0.3), (2, 123456789012346000)',
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal).toBe(false);
  });
});

describe('false "equal": a slip on the command line', () => {
  it('verify without --target-url (and without --target-table) compares the table with itself: exit 0 "equal"', async () => {
    const url = await createDatabase(stack.postgresUrl, 'advfe_self');
    await query(url, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    const out = await runRunbook('verify', ['--source-url', url, '--table', 'public.t', '--json'], { env: stackEnv() });
    // Expected: a usage error (exit 2): nothing was compared against anything.
    expect(out.code, out.stdout).toBe(2);
  });
});

// Not changed (6 Dec 2026): the README defines numeric equality by value. Kept as a known
// disagreement with the reviewer: the test fails (it.fails) until numeric hashes by text when
// both sides declare the same type, which would need a new row hash algo for backups.
describe('design (contradicts README "What equal means"): numeric scale under IDENTICAL column types', () => {
  // Reviewer's position: when both sides declare the same type (a restore or a faithful copy),
  // 1.0 -> 1.00 is a changed stored value (numeric::text, to_jsonb, pg_dump, every client see it;
  // test/helpers/independent.ts's to_jsonb hash says the tables differ). Ignoring scale is only
  // needed when the types differ (numeric(18,2) -> numeric(20,8)), where it can stay.
  it.fails('numeric 1.50 vs 1.5000 in two numeric (unconstrained) columns: reported equal', async () => {
    const [a, b] = await pair(
      'CREATE TABLE t (id int PRIMARY KEY, price numeric); INSERT INTO t VALUES (1, 1.50)',
      'CREATE TABLE t (id int PRIMARY KEY, price numeric); INSERT INTO t VALUES (1, 1.5000)',
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal).toBe(false);
  });
});
