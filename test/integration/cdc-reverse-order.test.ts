import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { replayReverse, startReverse } from '../../runbooks/migrations/cdc/reverse';
import { createDatabase, query } from '../helpers/databases';

// The reverse log replays in the order the target's writes were made, past
// every digit boundary of its ids (9 → 10, 99 → 100): a text sort of the ids
// once replayed entry 10 before entry 9 and resurrected deleted rows.
const TABLE = { schema: 'public', name: 'Rev "log" tab' };
const T = 'public."Rev ""log"" tab"';
let source: string;
let target: string;

/** Independent: every row's text, ordered by key. */
const rows = async (url: string) => (await query<{ r: string }>(url, `SELECT t::text AS r FROM ${T} t ORDER BY id`)).map((x) => x.r);

beforeAll(async () => {
  const admin = inject('stack').postgresUrl;
  [source, target] = [await createDatabase(admin, 'revsrc'), await createDatabase(admin, 'revtgt')];
  for (const url of [source, target]) {
    await query(url, `CREATE TABLE ${T} (id bigint PRIMARY KEY, v text NOT NULL)`);
    await query(url, `INSERT INTO ${T} SELECT g, 'start ' || g FROM generate_series(1, 20) g`);
  }
});

describe('reverse capture replays in write order', () => {
  it('updates then deletes, inserts then updates, across log ids 9→10 and 99→100: the source ends equal to the target', async () => {
    const client = new pg.Client({ connectionString: target });
    await client.connect();
    try {
      await startReverse(client, TABLE, 'order-test');
      const write = (sql: string, params: unknown[] = []) => client.query(sql, params);
      for (let i = 1; i <= 8; i++) await write(`UPDATE ${T} SET v = v || ' +' WHERE id = 20`); // log ids 1..8
      await write(`UPDATE ${T} SET v = 'changed' WHERE id = 1`); // 9
      await write(`DELETE FROM ${T} WHERE id = 1`); // 10: text order would put it before 9
      for (let i = 11; i <= 98; i++) await write(`UPDATE ${T} SET v = v || '.' WHERE id = 19`);
      await write(`INSERT INTO ${T} VALUES (100, 'new')`); // 99
      await write(`UPDATE ${T} SET v = 'newer' WHERE id = 100`); // 100
      await write(`UPDATE ${T} SET v = 'newest' WHERE id = 100`); // 101
      const [{ n }] = (await query<{ n: string }>(target, 'SELECT max(id)::text AS n FROM tickvault.cdc_reverse')) as [{ n: string }];
      expect(Number(n)).toBe(101);

      const src = new pg.Client({ connectionString: source });
      await src.connect();
      try {
        expect(await replayReverse(client, src, TABLE, ['id'], 'order-test')).toBe(101);
      } finally {
        await src.end();
      }
    } finally {
      await client.end();
    }
    const expected = await rows(target);
    expect(expected).toContain('(100,newest)');
    expect(expected.some((r) => r.startsWith('(1,'))).toBe(false);
    expect(await rows(source)).toEqual(expected);
    // Every replayed entry is forgotten, none is left to replay twice.
    expect(await query(target, "SELECT id FROM tickvault.cdc_reverse WHERE capture = 'order-test'")).toEqual([]);
  });
});
