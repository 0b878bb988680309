/**
 * Adversarial review: hostile --table values for `tickvault verify` and the
 * copy-table migration. Expected (and observed on base 9e85307): a clear
 * usage/config error, exit 2, and no data changed. These pass.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const env = stackEnv();
let source: string;
let target: string;

const state = async (url: string) => query<{ t: string; n: number }>(url, "SELECT c.relname AS t, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', c.relname), false, true, '')))[1]::text::int AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1");

beforeAll(async () => {
  [source, target] = await Promise.all([createDatabase(stack.postgresUrl, 'advh_src'), createDatabase(stack.postgresUrl, 'advh_dst')]);
  const ddl = `CREATE TABLE x (id int PRIMARY KEY); INSERT INTO x VALUES (1), (2);
               CREATE TABLE "t; DROP TABLE x" (id int PRIMARY KEY); INSERT INTO "t; DROP TABLE x" VALUES (1);
               CREATE SCHEMA "Odd Schema"; CREATE TABLE "Odd Schema"."Order ""Items"".v1" (id int PRIMARY KEY); INSERT INTO "Odd Schema"."Order ""Items"".v1" VALUES (7)`;
  await query(source, ddl);
  await query(target, ddl);
});

const verify = (table: string) => runRunbook('verify', ['--source-url', source, '--target-url', target, '--table', table, '--json'], { env });

describe('hostile --table for verify', () => {
  it.each([
    ['public.x; DROP TABLE x', /unexpected ";"/],
    ["public.x' OR '1'='1", /unexpected "'"/],
    ['public.x--', /unexpected "-"/],
    ['public..x', /unexpected "\."/],
    ['..', /unexpected "\."/],
    ['public.', /ends with a dot/],
    ['a.b.c', /too many parts/],
    ['"x', /unterminated quote/],
    ['""', /empty quoted identifier/],
    [' ', /empty/],
    ['x)', /unexpected "\)"/],
    ['public.x /* */', /unexpected " "/],
  ])('%s: usage error, exit 2', async (table, message) => {
    const out = await verify(table);
    expect(out.code, out.stdout).toBe(2);
    expect((out.summary!.error as { message: string }).message).toMatch(message);
  });

  it.each([
    ['"public.x; DROP TABLE x"', /source has no table/], // one quoted part: a table of that name in public
    ['"X"', /source has no table public\.X/], // quoted keeps case: not x
    ['nosuch.x', /source has no table nosuch\.x/],
  ])('%s: no such table, exit 2', async (table, message) => {
    const out = await verify(table);
    expect(out.code, out.stdout).toBe(2);
    expect((out.summary!.error as { message: string }).message).toMatch(message);
  });

  it('names that need quoting reach the right table: "t; DROP TABLE x", X (folds to x), "Odd Schema"."Order ""Items"".v1"', async () => {
    for (const table of ['"t; DROP TABLE x"', 'X', 'PUBLIC.X', '"Odd Schema"."Order ""Items"".v1"']) {
      const out = await verify(table);
      expect(out.code, `${table}\n${out.stdout}`).toBe(0);
      expect(out.summary!.sourceRows).toBeGreaterThan(0);
    }
  });

  it('no data changed on either side', async () => {
    const expected = [{ t: 't; DROP TABLE x', n: 1 }, { t: 'x', n: 2 }];
    expect(await state(source)).toEqual(expected);
    expect(await state(target)).toEqual(expected);
    expect(await query(source, `SELECT count(*)::int AS n FROM "Odd Schema"."Order ""Items"".v1"`)).toEqual([{ n: 1 }]);
  });
});

describe('hostile --table for the copy-table migration', () => {
  it('public.x; DROP TABLE x: refused (exit 2), nothing created or dropped', async () => {
    const fresh = await createDatabase(stack.postgresUrl, 'advh_copy');
    const out = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--all', '--table', 'public.x; DROP TABLE x', '--source-url', source, '--target-url', fresh, '--json'], { env });
    expect(out.code, out.stdout).toBe(2);
    expect(await state(source)).toEqual([{ t: 't; DROP TABLE x', n: 1 }, { t: 'x', n: 2 }]);
    expect(await query(fresh, "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')")).toEqual([]);
  });
});
