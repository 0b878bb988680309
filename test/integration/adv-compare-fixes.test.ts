/**
 * The fixes for adversarial review items 2, 4 and 6 (verify/compare.ts,
 * verify.ts), beyond the failing tests of adv-compare-false-equal and
 * adv-compare-false-differs: what must still work, and the edges of each fix.
 */
import { describe, expect, inject, it } from 'vitest';
import { compareTables } from '../../runbooks/verify/compare';
import { createDatabase, databasePair, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const env = stackEnv();
const t = { schema: 'public', name: 't' };

const pair = (sourceSql: string, targetSql: string) => databasePair(stack.postgresUrl, 'advfx', sourceSql, targetSql);

describe('item 2: --columns always hashes the key columns too', () => {
  it('a key column listed in --columns counts once; a column not listed is still ignored', async () => {
    const [a, b] = await pair(
      "CREATE TABLE t (id int PRIMARY KEY, owner text, note text); INSERT INTO t VALUES (1, 'alice', 'x'), (2, 'bob', 'y')",
      "CREATE TABLE t (id int PRIMARY KEY, owner text, note text); INSERT INTO t VALUES (1, 'alice', 'CHANGED'), (2, 'bob', 'y')",
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t }, { columns: ['owner', 'id', 'owner'] });
    expect(r.equal).toBe(true);
    expect(r.hashing).toBe('by column name: 2 column(s) by value, 0 by canonical text');
    const only = await compareTables({ url: a, table: t }, { url: b, table: t }, { columns: ['owner'] });
    expect(only.equal).toBe(true);
    expect(only.hashing).toBe('by column name: 2 column(s) by value, 0 by canonical text');
  });

  it('a changed compared column is reported under its key, naming only that column', async () => {
    const [a, b] = await pair(
      "CREATE TABLE t (id int PRIMARY KEY, owner text, note text); INSERT INTO t VALUES (1, 'alice', 'x'), (2, 'bob', 'y')",
      "CREATE TABLE t (id bigint PRIMARY KEY, owner text, note text); INSERT INTO t VALUES (1, 'alice', 'x'), (2, 'mallory', 'y')",
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t }, { columns: ['owner'] });
    expect(r.differences).toEqual([{ key: '2', kind: 'changed', columns: ['owner (text)'] }]);
  });
});

describe('item 4: verify refuses to compare a table with itself', () => {
  const verify = (args: string[]) => runRunbook('verify', [...args, '--json'], { env });

  it('same database spelled differently, or --target-table naming the same table: usage error (exit 2)', async () => {
    const url = await createDatabase(stack.postgresUrl, 'advfx_self');
    await query(url, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    const other = new URL(url);
    other.searchParams.set('application_name', 'another-spelling');
    for (const args of [
      ['--source-url', url, '--target-url', other.toString(), '--table', 'public.t'],
      ['--source-url', url, '--table', 't', '--target-table', 'PUBLIC.T'],
    ]) {
      const out = await verify(args);
      expect(out.code, out.stdout).toBe(2);
      expect((out.summary!.error as { message: string }).message).toMatch(/same table public\.t in the same database/);
    }
  });

  it('another table in the same database (no --target-url) is still compared: equal exit 0, different exit 3', async () => {
    const url = await createDatabase(stack.postgresUrl, 'advfx_twotables');
    await query(url, 'CREATE TABLE t (id int PRIMARY KEY, v int); CREATE TABLE t_copy (LIKE t INCLUDING ALL); INSERT INTO t VALUES (1, 1), (2, 2); INSERT INTO t_copy SELECT * FROM t');
    const same = await verify(['--source-url', url, '--table', 'public.t', '--target-table', 'public.t_copy']);
    expect(same.code, same.stdout).toBe(0);
    await query(url, 'UPDATE t_copy SET v = 3 WHERE id = 2');
    const diff = await verify(['--source-url', url, '--table', 'public.t', '--target-table', 'public.t_copy']);
    expect(diff.code, diff.stdout).toBe(3);
    expect(diff.summary!.differences).toEqual([{ key: '2', kind: 'changed', columns: ['v (integer)'] }]);
  });
});

describe('item 6: --key matched and checked by the key columns, not by a joined text', () => {
  it('a changed row among keys containing "|" is reported under its own key (a JSON array of the key texts)', async () => {
    const [a, b] = await pair(
      "CREATE TABLE t (a text, b text, v int); INSERT INTO t VALUES ('x|y', 'z', 1), ('x', 'y|z', 2)",
      "CREATE TABLE t (a text, b text, v int); INSERT INTO t VALUES ('x|y', 'z', 1), ('x', 'y|z', 3)",
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['a', 'b'] });
    expect(r.differences).toEqual([{ key: '["x", "y|z"]', kind: 'changed', columns: ['v (integer)'] }]);
  });

  it('a NULL key and the text \\N are two keys: a change to either is found, and only to that row', async () => {
    const [a, b] = await pair(
      "CREATE TABLE t (a text UNIQUE, v int); INSERT INTO t VALUES (NULL, 1), ('\\N', 2)",
      "CREATE TABLE t (a text UNIQUE, v int); INSERT INTO t VALUES (NULL, 1), ('\\N', 3)",
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['a'] });
    expect(r.equal).toBe(false);
    expect(r.differences).toEqual([{ key: '\\N', kind: 'changed', columns: ['v (integer)'] }]);
    // The NULL row missing on the target: missing, not changed.
    await query(b, 'DELETE FROM t WHERE a IS NULL; UPDATE t SET v = 2');
    const missing = await compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['a', 'v'] });
    expect(missing.differences).toEqual([{ key: '[null, "1"]', kind: 'missing in target' }]);
  });

  it('two rows with a NULL key are still not unique (exit 2 through verify)', async () => {
    const [a, b] = await pair('CREATE TABLE t (a text, v int); INSERT INTO t VALUES (NULL, 1), (NULL, 2)', 'CREATE TABLE t (a text, v int); INSERT INTO t VALUES (NULL, 1)');
    await expect(compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['a'] })).rejects.toThrow(/--key a is not unique in the source public\.t: e\.g\. "\\\\N" ×2/);
    const out = await runRunbook('verify', ['--source-url', a, '--target-url', b, '--table', 'public.t', '--key', 'a', '--json'], { env });
    expect(out.code, out.stdout).toBe(2);
  });

  it('a primary key duplicated on a target without the constraint, with different contents: reported as a duplicate', async () => {
    const [a, b] = await pair(
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')",
      "CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, 'a'), (1, 'z'), (2, 'b')",
    );
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.equal).toBe(false);
    expect(r.differences.map((d) => `${d.kind}:${d.key}`)).toContain('extra in target:1 (×2 in target)');
  });

  it('a composite key of int4 on one side and int8 on the other matches by value', async () => {
    const [a, b] = await pair(
      "CREATE TABLE t (id int, sym text, v numeric, PRIMARY KEY (id, sym)); INSERT INTO t SELECT g, 'S' || (g % 7), g FROM generate_series(1, 3000) g",
      "CREATE TABLE t (id bigint, sym varchar(10), v numeric, PRIMARY KEY (id, sym)); INSERT INTO t SELECT g, 'S' || (g % 7), g FROM generate_series(1, 3000) g",
    );
    expect(await compareTables({ url: a, table: t }, { url: b, table: t })).toMatchObject({ equal: true, differences: [] });
    expect(await compareTables({ url: a, table: t }, { url: b, table: t }, { key: ['sym', 'id'] })).toMatchObject({ equal: true, differences: [] });
    await query(b, "UPDATE t SET v = -1 WHERE id = 42; DELETE FROM t WHERE id = 43; INSERT INTO t VALUES (5000, 'S1', 1)");
    const r = await compareTables({ url: a, table: t }, { url: b, table: t });
    expect(r.matchedBy).toEqual(['id', 'sym']);
    expect(r.differences).toEqual([
      { key: '["42", "S0"]', kind: 'changed', columns: ['v (numeric)'] },
      { key: '["43", "S1"]', kind: 'missing in target' },
      { key: '["5000", "S1"]', kind: 'extra in target' },
    ]);
  });
});
