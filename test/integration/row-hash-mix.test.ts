import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fingerprintParallel } from '../../runbooks/stores/postgres/fingerprint';
import { createDatabase, query } from '../helpers/databases';

/**
 * hash_record_extended is linear in its columns' hashes, so a plain sum of
 * row hashes (`named`, backups before 6 Dec 2026) misses a value swapped
 * between two rows; `mixed` (the current algo) must not. Old backups keep
 * verifying with the formula they were made with.
 */
const stack = inject('stack');
let url: string;
const table = { schema: 'public', name: 'acct' };
const connectTo = async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
};
const print = async (algo: 'mixed' | 'named') => (await fingerprintParallel(connectTo, [{ table, algo }], 2))[0]!;

beforeAll(async () => {
  url = await createDatabase(stack.postgresUrl, 'rowmix');
  await query(url, 'CREATE TABLE acct (id int PRIMARY KEY, owner text, balance bigint)');
  await query(url, "INSERT INTO acct SELECT g, 'owner ' || g, g * 100 FROM generate_series(1, 500) g");
});

describe('row hash: sums that see which row holds a value', () => {
  it('`named` is the plain sum of hash_record_extended over the columns by name (old backups verify as they were made)', async () => {
    const [plain] = await query<{ h: string; n: string }>(url, 'SELECT sum(hash_record_extended(ROW(balance, id, owner), 0))::text AS h, count(*)::text AS n FROM acct');
    const named = await print('named');
    expect({ rows: named.rows, hash: named.hash }).toEqual({ rows: Number(plain!.n), hash: plain!.h });
  });

  it('every balance swapped between two rows changes the `mixed` fingerprint; the linear `named` sum misses some', async () => {
    let namedMissed = 0;
    for (let a = 1; a < 40; a += 2) {
      const before = { mixed: await print('mixed'), named: await print('named') };
      await query(url, 'UPDATE acct SET balance = CASE id WHEN $1::int THEN $2::bigint ELSE $3::bigint END WHERE id IN ($1, $4)', [a, (a + 1) * 100, a * 100, a + 1]);
      const after = { mixed: await print('mixed'), named: await print('named') };
      // The independent check: to_jsonb row md5s against the rows as inserted see exactly this pair.
      const [changed] = await query<{ ids: number[] }>(url, "SELECT array_agg(id ORDER BY id) AS ids FROM acct WHERE md5(to_jsonb(acct)::text) <> md5(jsonb_build_object('id', id, 'owner', owner, 'balance', id * 100)::text)");
      expect(changed!.ids).toEqual([a, a + 1]);
      expect(after.mixed.rows).toBe(before.mixed.rows);
      expect(after.mixed.hash, `swap of ${a} and ${a + 1}`).not.toBe(before.mixed.hash);
      if (after.named.hash === before.named.hash) namedMissed++;
      await query(url, 'UPDATE acct SET balance = id * 100 WHERE id IN ($1, $2)', [a, a + 1]);
    }
    expect(namedMissed).toBeGreaterThan(0);
  });
});
