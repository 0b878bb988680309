/**
 * Verification cuts a table into parts (block ranges, partitions and
 * children read alone, a hypertable's time slices) and adds their hashes.
 * The parts must cover every row exactly once: the sum of the parts must
 * equal one scan of the whole table, and the row counts must equal plain
 * count(*) — on the torture corpus and on hypertables with compressed
 * chunks, more chunks than slices, integer time and rows on chunk bounds.
 */
import path from 'node:path';
import pg from 'pg';
import { $ } from 'zx';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fingerprintParallel, fingerprintTable, listTables } from '../../runbooks/stores/postgres/fingerprint';
import { fingerprintParts } from '../../runbooks/stores/postgres/fingerprint-parts';
import { NORMALISE_SESSION, qualify, tableLabel, type TableName } from '../../runbooks/stores/postgres/sql';
import { createDatabase, query } from '../helpers/databases';
import { buildTimescaleFixture } from '../helpers/timescale-fixture';

const stack = inject('stack');
const root = path.resolve(import.meta.dirname, '..', '..');
let db: string;

beforeAll(async () => {
  db = await createDatabase(stack.postgresUrl, 'parts');
  const u = new URL(db);
  await $({ env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } })`psql -v ON_ERROR_STOP=1 -q ${`--dbname=${db.replace(/:[^:@/]*@/, '@')}`} -f ${path.join(root, 'test', 'corpus', 'torture.sql')}`.quiet();
  // 40 daily chunks (more than the 16 slices), the older ones compressed.
  await buildTimescaleFixture(db, { days: 40, perDay: 50 });
  for (const sql of [
    // Integer time, rows exactly on chunk bounds and below the first chunk's start.
    `CREATE TABLE "Odd Schema"."int time" ("t ick" bigint NOT NULL, v text)`,
    `SELECT create_hypertable('"Odd Schema"."int time"', 't ick', chunk_time_interval => 100)`,
    `INSERT INTO "Odd Schema"."int time" SELECT g, 'v' || g FROM generate_series(-250, 999, 50) g`,
    // timestamp without time zone and date time columns: chunk bounds are reported as timestamptz.
    `CREATE TABLE local_ts (at timestamp NOT NULL, v int)`,
    `SELECT create_hypertable('local_ts', 'at', chunk_time_interval => interval '6 hours')`,
    `INSERT INTO local_ts SELECT timestamp '2025-03-30 00:00' + g * interval '17 minutes', g FROM generate_series(0, 500) g`,
    `CREATE TABLE by_day (d date NOT NULL, v int)`,
    `SELECT create_hypertable('by_day', 'd', chunk_time_interval => interval '7 days')`,
    `INSERT INTO by_day SELECT date '2024-12-25' + g, g FROM generate_series(0, 120) g`,
    // A big plain parent with a child of its own column order and an extra column.
    `CREATE TABLE big_parent (id int, note text)`,
    `CREATE TABLE big_child (extra text, note text, id int)`,
    `ALTER TABLE big_child INHERIT big_parent`,
    `INSERT INTO big_parent SELECT g, repeat('p', 200) FROM generate_series(1, 60000) g`,
    `INSERT INTO big_child SELECT 'x', repeat('c', 200), g FROM generate_series(1, 70000) g`,
  ])
    await query(db, sql);
}, 120_000);

async function withSession<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    await c.query(NORMALISE_SESSION);
    return await fn(c);
  } finally {
    await c.end();
  }
}

const connectTo = async () => {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  return c;
};

describe('verification parts add up to the whole table', () => {
  it('plans several parts where it should: hypertables by time slice, partitions and children alone, a big table by blocks', async () => {
    const parts = (table: TableName) => withSession((c) => fingerprintParts(c, table, 2, true));
    const slices = (await parts({ schema: 'public', name: 'tick_data' })).length;
    expect(slices).toBeGreaterThanOrEqual(8);
    expect(slices).toBeLessThanOrEqual(16);
    for (const name of ['local_ts', 'by_day']) expect((await parts({ schema: 'public', name })).length).toBeGreaterThan(5);
    expect((await parts({ schema: 'Odd Schema', name: 'int time' })).length).toBeGreaterThan(5);
    expect((await parts({ schema: 'public', name: 'big_parent' })).filter((p) => p.only).length).toBeGreaterThanOrEqual(3);
    // A whole-row (legacy) hash must not read a child alone: its row type differs.
    expect((await withSession((c) => fingerprintParts(c, { schema: 'public', name: 'big_parent' }, 2, false))).some((p) => p.only)).toBe(false);
  });

  it('every table of the corpus and the hypertables: the parts sum to one scan, and count(*) agrees', async () => {
    const tables = await withSession((c) => listTables(c));
    expect(tables.length).toBeGreaterThan(15);
    const parted = await fingerprintParallel(connectTo, tables.map((table) => ({ table, algo: 'mixed' as const })), 2);
    const mismatches: string[] = [];
    for (const [i, table] of tables.entries()) {
      const whole = await withSession((c) => fingerprintTable(c, table));
      const [{ n }] = (await query<{ n: string }>(db, `SELECT count(*)::text AS n FROM ${qualify(table)}`)) as [{ n: string }];
      const got = parted[i]!;
      if (got.rows !== Number(n) || got.rows !== whole.rows || got.hash !== whole.hash) mismatches.push(`${tableLabel(table)}: parts ${got.rows}/${got.hash}, whole ${whole.rows}/${whole.hash}, count(*) ${n}`);
    }
    expect(mismatches).toEqual([]);
  }, 120_000);

  it('a row changed in one compressed chunk changes the sum of the parts', async () => {
    const before = (await fingerprintParallel(connectTo, [{ table: { schema: 'public', name: 'tick_data' }, algo: 'mixed' }], 2))[0]!;
    await query(db, `UPDATE public.tick_data SET price = price + 1 WHERE id = (SELECT min(id) FROM public.tick_data)`);
    const after = (await fingerprintParallel(connectTo, [{ table: { schema: 'public', name: 'tick_data' }, algo: 'mixed' }], 2))[0]!;
    expect(after.rows).toBe(before.rows);
    expect(after.hash).not.toBe(before.hash);
  });
});
