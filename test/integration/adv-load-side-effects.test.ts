import { describe, expect, inject, it } from 'vitest';
import { query } from '../helpers/databases';
import { advEnv, backup, earlyOf, errorOf, restore, sourceWith } from '../helpers/adv';

/**
 * Adversarial: a table hashed early (its TABLE DATA entry finished) is
 * changed later in the same restore. The restored table then differs from
 * the backup, so the verdict must fail (exit 3). Hashing it early must not
 * turn a restore that differs into a "verified" one.
 */
const stack = inject('stack');

describe('adversarial: data changed after a table was hashed early', () => {
  it('a CHECK constraint whose function writes to another table while the data loads: the grown table must fail verification', async () => {
    const env = advEnv();
    const source = await sourceWith(stack.postgresUrl, 'advchk', [
      'CREATE TABLE audit_log (note text)',
      // pg_restore runs with search_path = '': the body names its table in full. The sleep keeps
      // the COPY of t open long enough for audit_log's finished entry to be hashed first.
      `CREATE FUNCTION public.audited(x int) RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.audit_log VALUES ('saw ' || x); PERFORM pg_sleep(3); RETURN true; END $$`,
      'CREATE TABLE t (x int CHECK (public.audited(x)))',
      'INSERT INTO t VALUES (1)',
    ]);
    expect(await query(source, 'SELECT count(*)::int AS n FROM audit_log')).toEqual([{ n: 1 }]);
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    // The restored audit_log has the row of the backup plus the one written by loading t.
    const got = await query<{ n: number }>(r.target, 'SELECT count(*)::int AS n FROM audit_log');
    expect(got).toEqual([{ n: 2 }]);
    // Was exit 0 (verified): audit_log was hashed with 1 row as soon as its entry finished,
    // before t's COPY committed. Now the CHECK's function turns early hashing off.
    expect({ code: r.code, early: earlyOf(r), error: errorOf(r) }).toMatchObject({ code: 3, error: expect.stringMatching(/public\.audit_log: 2 rows, backup had 1/) });
  }, 180_000);

  it('a materialized view whose query writes to a table (post-data REFRESH): the grown table must fail verification', async () => {
    const env = advEnv();
    const source = await sourceWith(stack.postgresUrl, 'advmv', [
      'CREATE TABLE refresh_log (note text)',
      `CREATE FUNCTION public.noted() RETURNS int LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.refresh_log VALUES ('refreshed'); RETURN 1; END $$`,
      'CREATE MATERIALIZED VIEW mv AS SELECT public.noted() AS v',
    ]);
    expect(await query(source, 'SELECT count(*)::int AS n FROM refresh_log')).toEqual([{ n: 1 }]);
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    const got = await query<{ n: number }>(r.target, 'SELECT count(*)::int AS n FROM refresh_log');
    expect(got).toEqual([{ n: 2 }]);
    // Was exit 0: refresh_log was hashed during the data section; post-data's REFRESH
    // MATERIALIZED VIEW wrote to it afterwards. Now verification waits for post-data.
    expect({ code: r.code, early: earlyOf(r), error: errorOf(r) }).toMatchObject({ code: 3, error: expect.stringMatching(/public\.refresh_log: 2 rows, backup had 1/) });
  }, 180_000);

  it('an index on the database\'s own function (created in post-data) is seen after post-data: verified again, no false alarm', async () => {
    const env = advEnv();
    const source = await sourceWith(stack.postgresUrl, 'advidx', [
      `CREATE FUNCTION public.norm(x text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(x) $$`,
      "CREATE TABLE words AS SELECT 'Word ' || g AS w FROM generate_series(1, 200) g",
      'CREATE INDEX words_norm ON words (public.norm(w))',
    ]);
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    const end = r.events.find((e) => e.event === 'end' && String(e.step).includes('verify row counts'));
    expect({ code: r.code, error: errorOf(r), again: end?.verifiedAgainAfterPostData }).toEqual({ code: 0, error: undefined, again: ['norm(text)'] });
  }, 180_000);
});
