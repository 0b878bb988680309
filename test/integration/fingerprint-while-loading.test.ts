/**
 * Verification that starts while a restore still loads
 * (fingerprint-while-loading.ts): a table or a hypertable's time slice is
 * hashed early only once every relation it reads has its data, and the
 * final fingerprints equal one scan of each finished table. Rows written
 * after start() but before their entry is done must be counted: that is
 * what hashing too early would miss.
 */
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fingerprintTable } from '../../runbooks/stores/postgres/fingerprint';
import { FingerprintWhileLoading } from '../../runbooks/stores/postgres/fingerprint-while-loading';
import { NORMALISE_SESSION, type TableName } from '../../runbooks/stores/postgres/sql';
import { createDatabase, query } from '../helpers/databases';

const stack = inject('stack');
let db: string;

const connectTo = async () => {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  return c;
};

async function whole(table: TableName) {
  const c = await connectTo();
  try {
    await c.query(NORMALISE_SESSION);
    return await fingerprintTable(c, table);
  } finally {
    await c.end();
  }
}

const plain: TableName = { schema: 'public', name: 'plain' };
const odd: TableName = { schema: 'a b', name: 'c' };
const ticks: TableName = { schema: 'public', name: 'ticks' };
// The listing as pg_restore --list prints it: "id; oids TABLE DATA schema name owner".
const line = (id: number, schema: string, name: string) => `${id}; 0 0 TABLE DATA ${schema} ${name} me`;

beforeAll(async () => {
  db = await createDatabase(stack.postgresUrl, 'wload');
  for (const sql of [
    'CREATE EXTENSION IF NOT EXISTS timescaledb',
    'CREATE TABLE plain (id int, v text)',
    'CREATE SCHEMA "a b"',
    'CREATE TABLE "a b".c (id int)',
    // "a" "b c" and "a b" "c" print alike in a listing.
    'CREATE SCHEMA a',
    'CREATE TABLE a."b c" (id int)',
    'CREATE TABLE ticks (ts timestamptz NOT NULL, v int)',
    "SELECT create_hypertable('ticks', 'ts', chunk_time_interval => interval '1 day')",
    "INSERT INTO ticks SELECT timestamptz '2025-01-01' + g * interval '1 hour', g FROM generate_series(0, 71) g",
  ])
    await query(db, sql);
});

async function chunksOf(): Promise<{ id: number; schema: string; name: string }[]> {
  const rows = await query<{ schema: string; name: string }>(db, "SELECT chunk_schema AS schema, chunk_name AS name FROM timescaledb_information.chunks WHERE hypertable_name = 'ticks' ORDER BY range_start");
  return rows.map((r, i) => ({ id: 200 + i, ...r }));
}

describe('hashing while the data loads', () => {
  it('waits for a table\'s entry: rows loaded after start() are counted, and the result equals one scan', async () => {
    const listing = [line(101, 'public', 'plain')].join('\n');
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: plain, algo: 'mixed' }], listing);
    await v.whenIdle();
    expect(v.early.parts).toBe(0); // its entry is not done: nothing hashed yet
    await query(db, "INSERT INTO plain SELECT g, 'r' || g FROM generate_series(1, 500) g");
    v.entryDone(101);
    await v.whenIdle();
    expect(v.early).toEqual({ parts: 1, rows: 500 });
    const [got] = await v.finish(2);
    expect(got).toEqual(await whole(plain));
  });

  it('a hypertable: each time slice is hashed once its chunks are done, the rest at the end', async () => {
    const chunks = await chunksOf();
    expect(chunks.length).toBe(3);
    const listing = [line(100, 'public', 'ticks'), ...chunks.map((c) => line(c.id, c.schema, c.name))].join('\n');
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: ticks, algo: 'mixed' }], listing);
    v.entryDone(100);
    v.entryDone(chunks[0]!.id);
    await v.whenIdle();
    expect(v.early.parts).toBe(1);
    // A row lands in the last chunk before its entry is done: hashing that slice early would miss it.
    await query(db, "INSERT INTO ticks VALUES (timestamptz '2025-01-03 23:30', -1)");
    const [got] = await v.finish(2);
    expect(v.early.parts).toBe(1);
    expect(got).toEqual(await whole(ticks));
    expect(got!.rows).toBe(73);
  });

  it('an entry the listing cannot name for sure (names with spaces fit two relations): nothing early, still exact', async () => {
    const listing = [line(300, 'a', 'b c'), line(301, 'public', 'plain')].join('\n');
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: odd, algo: 'mixed' }, { table: plain, algo: 'mixed' }], listing);
    v.entryDone(301);
    await v.whenIdle();
    expect(v.early.parts).toBe(0);
    await query(db, 'INSERT INTO "a b".c SELECT generate_series(1, 7)');
    const got = await v.finish(2);
    expect(got).toEqual([await whole(odd), await whole(plain)]);
    expect(got[0]!.rows).toBe(7);
  });

  it('finish() right as a big table\'s entry is done: the part in flight ends beside the others, each part counted once', async () => {
    const big: TableName = { schema: 'public', name: 'big' };
    await query(db, "CREATE TABLE big AS SELECT g AS id, repeat('x', 120) AS pad FROM generate_series(1, 200000) g");
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: big, algo: 'mixed' }], line(400, 'public', 'big'));
    v.entryDone(400);
    const [got] = await v.finish(2);
    expect(got).toEqual(await whole(big));
    expect(got!.rows).toBe(200000);
  });

  it('a relation named by two TABLE DATA entries is ready only when both are done', async () => {
    const listing = [line(501, 'public', 'plain'), line(502, 'public', 'plain')].join('\n');
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: plain, algo: 'mixed' }], listing);
    v.entryDone(501);
    v.entryDone(501); // a repeated report counts once
    await v.whenIdle();
    expect(v.early.parts).toBe(0);
    v.entryDone(502);
    await v.whenIdle();
    expect(v.early.parts).toBe(1);
    const [got] = await v.finish(2);
    expect(got).toEqual(await whole(plain));
  });

  it('a planning failure (a table gone) ends the early loop and is thrown by finish()', async () => {
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: { schema: 'public', name: 'gone' }, algo: 'mixed' }], '');
    await v.whenIdle();
    await expect(v.finish(2)).rejects.toThrow(/public\.gone: no such table/);
  });

  it('abandon() after a failed restore closes its session', async () => {
    const app = 'wload-abandon';
    const sessions = async () => Number((await query<{ n: string }>(db, 'SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = $1', [app]))[0]!.n);
    const v = await FingerprintWhileLoading.start(
      async () => {
        const c = new pg.Client({ connectionString: db, application_name: app });
        await c.connect();
        return c;
      },
      [{ table: plain, algo: 'mixed' }],
      line(101, 'public', 'plain'),
    );
    expect(await sessions()).toBe(1);
    await v.abandon();
    await v.abandon();
    expect(await sessions()).toBe(0);
  });
});
