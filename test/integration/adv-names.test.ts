import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { pgBin } from '../../runbooks/stores/postgres/binaries';
import { query } from '../helpers/databases';
import { advEnv, backup, earlyOf, errorOf, restore, sourceWith } from '../helpers/adv';

/** Adversarial: names that the restore's verification may confuse. A correct restore must verify (exit 0). */
const stack = inject('stack');

const listing = (env: Record<string, string>, id: string) =>
  execFileSync(pgBin('pg_restore'), ['--list', path.join(new URL(env.BACKUP_REPO!).pathname, env.TICKVAULT_ENV!, 'postgres', id, 'dump')], { encoding: 'utf8' });

describe('adversarial: names', () => {
  it('"a.b"."c" and "a"."b.c" (same schema.name label) restore and verify', async () => {
    const env = advEnv();
    const source = await sourceWith(stack.postgresUrl, 'advlabel', [
      'CREATE SCHEMA "a.b"',
      'CREATE SCHEMA a',
      'CREATE TABLE "a.b".c AS SELECT g AS id FROM generate_series(1, 3) g',
      'CREATE TABLE a."b.c" AS SELECT g AS id FROM generate_series(1, 5) g',
    ]);
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    // The restore itself is complete:
    expect(await query(r.target, 'SELECT (SELECT count(*)::int FROM "a.b".c) AS x, (SELECT count(*)::int FROM a."b.c") AS y')).toEqual([{ x: 3, y: 5 }]);
    // Expected: exit 0. Observed: exit 3, "a.b.c: 6 rows, backup had 5; a.b.c: 6 rows, backup had 3"
    // (tablesToVerify maps both manifest entries to "a.b"."c" by label; it is hashed twice into one sum, "a"."b.c" never).
    expect({ code: r.code, error: errorOf(r) }).toEqual({ code: 0, error: undefined });
  }, 180_000);

  it('a sequence whose name holds a newline and a "finished item N TABLE DATA" line does not make a still-loading table hash early', async () => {
    const env = advEnv();
    const source = await sourceWith(stack.postgresUrl, 'advseq', [
      // pg_sleep keeps the COPY of slow open for 3 s during the restore.
      `CREATE FUNCTION public.slowly(x int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN true; END $$`,
      'CREATE TABLE slow (x int CHECK (public.slowly(x)))',
      'INSERT INTO slow VALUES (1)',
      'CREATE SEQUENCE s',
    ]);
    // Find slow's TABLE DATA dump id, then name the sequence after it; the object set, hence the ids, stay the same.
    const first = await backup(env, source);
    const dumpId = /^(\d+); \d+ \d+ TABLE DATA public slow /m.exec(listing(env, first))![1];
    await query(source, `ALTER SEQUENCE s RENAME TO "s${'\n'}pg_restore: finished item ${dumpId} TABLE DATA public slow"`);
    const id = await backup(env, source);
    expect(/^(\d+); \d+ \d+ TABLE DATA public slow /m.exec(listing(env, id))![1]).toBe(dumpId);
    const r = await restore(env, source, id);
    expect(await query(r.target, 'SELECT count(*)::int AS n FROM slow')).toEqual([{ n: 1 }]);
    // Expected: exit 0. Observed: exit 3 "public.slow: 0 rows, backup had 1": pg_restore's
    // "launching item … SEQUENCE SET s\npg_restore: finished item N TABLE DATA …" log line is
    // taken for slow's entry finishing, and slow is hashed before its COPY commits.
    expect({ code: r.code, error: errorOf(r), early: earlyOf(r) }).toMatchObject({ code: 0, error: undefined });
  }, 180_000);

  it('a table named "a<newline>b" restores and verifies', async () => {
    const env = advEnv();
    const source = await sourceWith(stack.postgresUrl, 'advnl', [
      `CREATE TABLE "a${'\n'}b" AS SELECT g AS id FROM generate_series(1, 4) g`,
      'CREATE TABLE plain AS SELECT g AS id FROM generate_series(1, 5) g',
      // Keeps the load open for 3 s, so that early hashing has time to run.
      `CREATE FUNCTION public.slowly(x int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN true; END $$`,
      'CREATE TABLE slow (x int CHECK (public.slowly(x)))',
      'INSERT INTO slow VALUES (1)',
    ]);
    // Observed: the backup itself fails, exit 3 "the dump's table of contents lacks: public.a\nb":
    // pg_restore --list prints the newline as a space, hasTableData (logical-backup.ts) looks for it as is.
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    expect(await query(r.target, `SELECT count(*)::int AS n FROM "a${'\n'}b"`)).toEqual([{ n: 4 }]);
    expect({ code: r.code, error: errorOf(r) }).toEqual({ code: 0, error: undefined });
  }, 180_000);
});
