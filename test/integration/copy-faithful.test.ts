import fs from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { copyAcross, type CopyResult } from '../../runbooks/migrations/copy/cross-database';
import { rollbackCopy } from '../../runbooks/migrations/copy/rollback';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';
import pg from 'pg';

// A partitioned table (two levels) with every kind of dependency and hostile
// identifiers; its FK and trigger point at objects that are not copied.
const FIXTURE = fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'odd-table.sql'), 'utf8');
const TABLE = { schema: 'Odd Schema', name: 'Order Items' };
const MEMBERS = ['"Odd Schema"."Order Items"', '"Odd Schema"."Order Items 2025"', '"Odd Schema"."Order Items 2025 eu"', '"Odd Schema"."Order Items 2025 rest"', '"Odd Schema"."Order Items 2026"'];

const stack = inject('stack');
let source: string;
let target: string;
let result: CopyResult;

/** Independent of tickvault: count and md5 over each row's name-keyed JSON, in plain SQL. */
async function rowHash(url: string, table: string): Promise<{ n: string; hash: string }> {
  return (await query<{ n: string; hash: string }>(url, `SELECT count(*)::text AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS hash FROM (SELECT md5(to_jsonb(t)::text) AS h FROM ${table} t) s`))[0]!;
}

/** pg_dump --schema-only of one schema, as a sorted multiset of statements (no comments, no \restrict keys). */
async function schemaStatements(url: string, schema: string): Promise<string[]> {
  const u = new URL(url);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  u.password = '';
  const out = await $({ env, quiet: true })`pg_dump --schema-only --no-owner --no-privileges --schema=${schema} --dbname=${u.toString()}`;
  return out.stdout
    .split('\n')
    .filter((l) => !l.startsWith('--') && !/^\\(un)?restrict /.test(l))
    .join('\n')
    .split(/;\n/)
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

const minus = (a: string[], b: string[]) => {
  const rest = [...b];
  return a.filter((x) => {
    const i = rest.indexOf(x);
    if (i < 0) return true;
    rest.splice(i, 1);
    return false;
  });
};

beforeAll(async () => {
  source = await createDatabase(stack.postgresUrl, 'oddsrc');
  target = await createDatabase(stack.postgresUrl, 'odddst');
  const c = new pg.Client({ connectionString: source });
  await c.connect();
  await c.query(FIXTURE);
  await c.query('ANALYZE');
  await c.end();
  result = await copyAcross({ plan: 'copy-table', sourceUrl: source, targetUrl: target, source: TABLE, target: TABLE, jobs: 2, schema: 'faithful' });
});

describe('copy-table copies a faithful table', () => {
  it('the target schema equals the source by pg_dump, except exactly what the summary lists as not carried', async () => {
    const src = await schemaStatements(source, '"Odd Schema"');
    const dst = await schemaStatements(target, '"Odd Schema"');
    expect(minus(dst, src)).toEqual([]);
    const missing = minus(src, dst);
    expect(missing).toHaveLength(2);
    expect(missing.find((s) => s.includes('FOREIGN KEY'))).toContain('REFERENCES other."Customers"(id)');
    expect(missing.find((s) => s.startsWith('CREATE TRIGGER'))).toContain('other.touch()');
    expect(result.notCarried.map((n) => n.kind).sort()).toEqual(['foreign key', 'grants', 'owner', 'trigger']);
    expect(result.notCarried.find((n) => n.kind === 'owner')!.reason).toContain('Auditor Role');
    expect(result.notCarried.find((n) => n.kind === 'foreign key')!.reason).toContain('other."Customers"');
    expect(result.notCarried.find((n) => n.kind === 'trigger')!.reason).toContain('other.touch()');
    // Carried along the way: enum, domain, composite and the free sequence, created because they were missing.
    expect(result.created).toEqual(expect.arrayContaining(['schema "Odd Schema"', 'type "Odd Schema"."Mood ""q"""', 'domain "Odd Schema"."Pos Price"', 'type "Odd Schema"."Pair"', 'sequence "Odd Schema"."Ticket Seq"', 'table "Odd Schema"."Order Items"']));
    expect(result.format).toBe('text');
  });

  it('every partition holds the same rows (plain-SQL name-keyed hash, generated column regenerated)', async () => {
    for (const member of MEMBERS) expect(await rowHash(target, member), member).toEqual(await rowHash(source, member));
    expect((await rowHash(target, MEMBERS[0]!)).n).toBe('3000');
    expect(result.rows).toBe(3000);
    const generated = await query<{ g: string }>(target, `SELECT attgenerated AS g FROM pg_attribute WHERE attrelid = '"Odd Schema"."Order Items"'::regclass AND attname = 'total'`);
    expect(generated).toEqual([{ g: 's' }]);
  });

  it('sequences and identity continue where the source is', async () => {
    const seqs = `SELECT (SELECT last_value FROM "Odd Schema"."Ticket Seq")::text AS ticket, (SELECT last_value FROM "Odd Schema"."Order Items_Id_seq")::text AS id`;
    expect(await query(target, seqs)).toEqual(await query(source, seqs));
    const next = await query<{ id: string; ticket: number }>(target, `INSERT INTO "Odd Schema"."Order Items" ("day", region, "Qty ""x""") VALUES ('2026-03-01', 'eu', 1) RETURNING "Id"::text AS id, ticket`);
    expect(next[0]).toEqual({ id: '3001', ticket: 4000 });
  });

  it('rollback drops exactly what the copy created', async () => {
    await query(target, 'CREATE SCHEMA IF NOT EXISTS keepme; CREATE TABLE keepme.t (x int)');
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      await rollbackCopy(client, 'copy-table', TABLE);
    } finally {
      await client.end();
    }
    expect(await query(target, `SELECT nspname FROM pg_namespace WHERE nspname IN ('Odd Schema', 'keepme') ORDER BY 1`)).toEqual([{ nspname: 'keepme' }]);
    expect(await query(target, "SELECT count(*)::int AS n FROM tickvault.copy_splits")).toEqual([{ n: 0 }]);
  });
});

describe('objects already on the target', () => {
  it('are reused, not recreated, and a rollback leaves them', async () => {
    const reuse = await createDatabase(stack.postgresUrl, 'oddreuse');
    await query(reuse, `CREATE SCHEMA "Odd Schema"; CREATE TYPE "Odd Schema"."Mood ""q""" AS ENUM ('sad', 'ok', 'hüpfend "x"')`);
    const copied = await copyAcross({ plan: 'copy-table', sourceUrl: source, targetUrl: reuse, source: TABLE, target: TABLE, jobs: 1, schema: 'faithful' });
    expect(copied.created).not.toContain('type "Odd Schema"."Mood ""q"""');
    expect(copied.created).not.toContain('schema "Odd Schema"');
    expect(await rowHash(reuse, MEMBERS[0]!)).toEqual(await rowHash(source, MEMBERS[0]!));
    // A second run of the same copy finds everything done and changes nothing.
    const again = await copyAcross({ plan: 'copy-table', sourceUrl: source, targetUrl: reuse, source: TABLE, target: TABLE, jobs: 1, schema: 'faithful' });
    expect(again.batchesResumed).toBe(again.batches);
    expect(await rowHash(reuse, MEMBERS[0]!)).toEqual(await rowHash(source, MEMBERS[0]!));
    const client = new pg.Client({ connectionString: reuse });
    await client.connect();
    try {
      await rollbackCopy(client, 'copy-table', TABLE);
    } finally {
      await client.end();
    }
    expect(await query(reuse, `SELECT to_regtype('"Odd Schema"."Mood ""q"""') IS NOT NULL AS kept, to_regclass('"Odd Schema"."Order Items"') IS NULL AS dropped, to_regtype('"Odd Schema"."Pos Price"') IS NULL AS domain_dropped`)).toEqual([{ kept: true, dropped: true, domain_dropped: true }]);
  });
});

describe('extensions and inheritance', () => {
  it('creates the extensions a column type or index needs; copies only the parent of an inheritance tree and lists the children', async () => {
    const src = await createDatabase(stack.postgresUrl, 'extsrc');
    const dst = await createDatabase(stack.postgresUrl, 'extdst');
    await query(src, "CREATE EXTENSION citext; CREATE EXTENSION pg_trgm; CREATE TABLE e (id int PRIMARY KEY, name citext NOT NULL, tags citext[]); CREATE INDEX e_trgm ON e USING gin (name gin_trgm_ops); INSERT INTO e SELECT g, 'N' || g, ARRAY['a', 'B'] FROM generate_series(1, 100) g; CREATE TABLE kid (extra int) INHERITS (e); INSERT INTO kid VALUES (1000, 'kid', NULL, 5)");
    const copied = await copyAcross({ plan: 'copy-table', sourceUrl: src, targetUrl: dst, source: { schema: 'public', name: 'e' }, target: { schema: 'public', name: 'e' }, jobs: 1, schema: 'faithful' });
    expect(copied.created).toEqual(expect.arrayContaining(['extension "citext"', 'extension "pg_trgm"']));
    expect(copied.notCarried).toEqual([expect.objectContaining({ kind: 'inheritance child', name: 'kid' })]);
    expect(await rowHash(dst, 'e')).toEqual(await rowHash(src, 'ONLY e'));
    expect(await query(dst, "SELECT indexdef FROM pg_indexes WHERE indexname = 'e_trgm'")).toEqual([{ indexdef: 'CREATE INDEX e_trgm ON public.e USING gin (name gin_trgm_ops)' }]);
    // A child on its own is refused with the reason (exit 2), before anything is created.
    await expect(copyAcross({ plan: 'copy-table', sourceUrl: src, targetUrl: dst, source: { schema: 'public', name: 'kid' }, target: { schema: 'public', name: 'kid' }, jobs: 1, schema: 'faithful' })).rejects.toThrow(/inherits from e/);
    expect(await query(dst, "SELECT to_regclass('public.kid') IS NULL AS absent")).toEqual([{ absent: true }]);
    // The plan's verify compares what was copied, the parent's own rows: no false "differs" for the child it listed.
    const viaPlan = await createDatabase(stack.postgresUrl, 'extdst');
    const run = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--table', 'public.e', '--source-url', src, '--target-url', viaPlan, '--all', '--safety-window', '0', '--json'], { env: stackEnv() });
    expect(run.code, run.stdout).toBe(0);
    expect(await rowHash(viaPlan, 'e')).toEqual(await rowHash(src, 'ONLY e'));
  });
});

describe('built-in types', () => {
  it('every kind of built-in column copies to an equal name-keyed hash, including types with no binary form', async () => {
    const src = await createDatabase(stack.postgresUrl, 'typesrc');
    const dst = await createDatabase(stack.postgresUrl, 'typedst');
    await query(src, `CREATE UNLOGGED TABLE "Types ""All""" (
        id int PRIMARY KEY, dropped_soon int, j json, jb jsonb, x xml, tsv tsvector, tsq tsquery, p point, b box, poly polygon, c circle, l lseg, pa path, li line,
        bi bit(4), vb varbit, m money, acl aclitem, acls aclitem[], iv interval, r int4range, mr int4multirange, u uuid, ip inet, mac macaddr, f float8, n numeric, ts timestamptz, arr text[][])`);
    await query(src, 'ALTER TABLE "Types ""All""" DROP COLUMN dropped_soon');
    await query(src, `INSERT INTO "Types ""All""" SELECT g, '{"a": 1}', '{"b": [1, 2]}', '<a>1</a>', 'fat cat', 'fat & cat', '(1,2)', '((0,0),(1,1))', '((0,0),(1,1),(1,0))', '<(1,1),2>', '[(0,0),(1,1)]', '((0,0),(1,1))', '{1,2,3}',
        B'1010', B'101', 12.34, 'tickvault=r/tickvault', ARRAY['tickvault=rw/tickvault'::aclitem], '1 day 2 hours', '[1,5)', '{[1,2),[5,9)}', gen_random_uuid(), '10.0.0.1/8', '08:00:2b:01:02:03',
        CASE WHEN g % 3 = 0 THEN 'NaN'::float8 WHEN g % 3 = 1 THEN -0.0 ELSE 1.0 / 3 END, 1.500, now(), ARRAY[['a','b'],['c','d']] FROM generate_series(1, 50) g`);
    const copied = await copyAcross({ plan: 'copy-table', sourceUrl: src, targetUrl: dst, source: { schema: 'public', name: 'Types "All"' }, target: { schema: 'public', name: 'Types "All"' }, jobs: 1, schema: 'faithful' });
    expect(copied.format).toBe('text');
    expect(copied.notCarried).toEqual([]);
    expect(await rowHash(dst, '"Types ""All"""')).toEqual(await rowHash(src, '"Types ""All"""'));
    expect(await query(dst, `SELECT relpersistence FROM pg_class WHERE oid = '"Types ""All"""'::regclass`)).toEqual([{ relpersistence: 'u' }]);
  });
});
