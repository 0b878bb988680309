/**
 * Adversarial review of runbooks/verify/compare.ts + row-hash.ts: tables that
 * hold the SAME data but are reported different (or refused), plus the row
 * hash's linearity as it reaches backup fingerprints. Every test here fails
 * on the code it was written against (branch adv-compare, base 9e85307).
 */
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { combinedHash, fingerprintTables } from '../../runbooks/stores/postgres/fingerprint';
import { compareTables } from '../../runbooks/verify/compare';
import { createDatabase, databasePair, query } from '../helpers/databases';
import { rowHashes } from '../helpers/independent';

const stack = inject('stack');
const t = { schema: 'public', name: 't' };

const pair = (sourceSql: string, targetSql: string) => databasePair(stack.postgresUrl, 'advfd', sourceSql, targetSql);

async function latin1Database(): Promise<string> {
  const name = `advfd_latin1_${Math.random().toString(16).slice(2, 10)}`;
  await query(stack.postgresUrl, `CREATE DATABASE ${name} WITH ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  const url = new URL(stack.postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

describe('false "differs"', () => {
  // Known false alarm, not fixed (6 Dec 2026): text is hashed by its bytes in each database's
  // encoding. it.fails until text hashes as UTF-8 when the encodings differ (a restore refuses a
  // target in another encoding; this hits verify and copy-table across encodings).
  it.fails('a LATIN1 database against a UTF8 one holding the same characters (café): reported changed', async () => {
    const ddl = `CREATE TABLE t (id int PRIMARY KEY, name text, label varchar(20), doc jsonb);
                 INSERT INTO t VALUES (1, 'café', 'Zürich', '{"city": "Zürich"}'), (2, 'plain', 'ascii', '{"a": 1}')`;
    const source = await latin1Database();
    const target = await createDatabase(stack.postgresUrl, 'advfd_utf8');
    await query(source, ddl);
    await query(target, ddl);
    // Independent: both sides hand the client the same characters.
    expect(await query(source, 'SELECT * FROM t ORDER BY id')).toEqual(await query(target, 'SELECT * FROM t ORDER BY id'));
    const r = await compareTables({ url: source, table: t }, { url: target, table: t });
    expect(r.differences).toEqual([]);
    expect(r.equal).toBe(true);
  });

  it('float8 0.1+0.2 copied exactly into a numeric column (0.30000000000000004): reported changed', async () => {
    // This is what COPY (float8out, shortest exact digits) writes into a numeric column.
    const [a, b] = await pair(
      'CREATE TABLE t (id int PRIMARY KEY, amount float8); INSERT INTO t VALUES (1, 0.1::float8 + 0.2::float8), (2, 0.1)',
      'CREATE TABLE t (id int PRIMARY KEY, amount numeric); INSERT INTO t VALUES (1, 0.30000000000000004), (2, 0.1)',
    );
    expect(await query(a, 'SELECT amount::text AS v FROM t WHERE id = 1')).toEqual(await query(b, 'SELECT amount::text AS v FROM t WHERE id = 1'));
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal).toBe(true);
  });

  it('--key a,b: unique pairs whose text contains the "|" separator are refused as "not unique"', async () => {
    const ddl = "CREATE TABLE t (a text, b text, v int); INSERT INTO t VALUES ('x|y', 'z', 1), ('x', 'y|z', 2)";
    const [a, b] = await pair(ddl, ddl);
    await expect(compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['a', 'b'] })).resolves.toMatchObject({ equal: true });
  });

  it('--key a: a NULL key and the text \\N are refused as "not unique"', async () => {
    const ddl = "CREATE TABLE t (a text UNIQUE, v int); INSERT INTO t VALUES (NULL, 1), ('\\N', 2)";
    const [a, b] = await pair(ddl, ddl);
    await expect(compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['a'] })).resolves.toMatchObject({ equal: true });
  });
});

describe('the same linearity in backup fingerprints (row-hash.ts rowHash summed over the WHOLE table, no segments)', () => {
  async function fingerprint(url: string): Promise<string> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return combinedHash(await fingerprintTables(client, [t]));
    } finally {
      await client.end();
    }
  }

  it('trades 1 and 2 swap their pnl: the fingerprint (restore verification) does not change', async () => {
    const [a, b] = await pair(
      'CREATE TABLE t (id int PRIMARY KEY, pnl int); INSERT INTO t VALUES (1, 10), (2, 20)',
      'CREATE TABLE t (id int PRIMARY KEY, pnl int); INSERT INTO t VALUES (1, 20), (2, 10)',
    );
    // The independent to_jsonb check sees the difference.
    expect((await rowHashes(a))['public.t']).not.toBe((await rowHashes(b))['public.t']);
    expect(await fingerprint(a)).not.toBe(await fingerprint(b));
  });
});
