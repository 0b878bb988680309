import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { fingerprintTable } from '../../runbooks/stores/postgres/fingerprint';
import { FingerprintWhileLoading } from '../../runbooks/stores/postgres/fingerprint-while-loading';
import { NORMALISE_SESSION, type TableName } from '../../runbooks/stores/postgres/sql';
import { createDatabase, query } from '../helpers/databases';
import { advEnv, backup, earlyOf, errorOf, restore } from '../helpers/adv';

/**
 * Adversarial: a hypertable with a space dimension that
 * gets a chunk attached (attach_chunk) for another space partition with a
 * wider time range has chunks whose time ranges overlap. A chunk then holds rows in a time slice other than the
 * one its range_start falls in, and that slice may be hashed before the chunk
 * is loaded. A correct restore must still verify.
 */
const stack = inject('stack');

/** ht: chunk A = [Fri Jan 3, Sat Jan 4) for device 1, and chunk B attached (attach_chunk, public API since
 * 2.21) as [Thu Jan 2, Thu Jan 9) in the other space partition: allowed, the hypercubes do not collide.
 * B starts before A, so its rows of Jan 5 are in the time slice [Jan 3, ∞) that only A is tied to. */
async function overlapping(db: string, bRow: boolean): Promise<void> {
  for (const sql of [
    'CREATE EXTENSION IF NOT EXISTS timescaledb',
    // Only while pg_restore loads (restoring mode), a row of any device but 1 takes 4 s: that chunk loads last.
    `CREATE FUNCTION public.slow_dev(d int) RETURNS boolean LANGUAGE plpgsql AS $$
       BEGIN IF d <> 1 AND current_setting('timescaledb.restoring', true) = 'on' THEN PERFORM pg_sleep(4); END IF; RETURN true; END $$`,
    'CREATE TABLE ht (ts timestamptz NOT NULL, dev int NOT NULL CHECK (public.slow_dev(dev)), v int)',
    "SELECT create_hypertable('ht', 'ts', chunk_time_interval => interval '1 day')",
    "SELECT add_dimension('ht', 'dev', number_partitions => 2)",
    "INSERT INTO ht VALUES ('2025-01-03 12:00+00', 1, 1)",
  ])
    await query(db, sql);
  // Two space partitions: [min, 1073741823) and [1073741823, max]. A device hashing to the other one than device 1:
  const half = 1073741823n;
  const hash = `_timescaledb_functions.get_partition_hash`;
  const [{ low }] = (await query<{ dev: number; low: boolean }>(
    db,
    `SELECT d AS dev, ${hash}(d) < ${half} AS low FROM generate_series(2, 50) d WHERE (${hash}(d) < ${half}) <> (${hash}(1) < ${half}) ORDER BY d LIMIT 1`,
  )) as [{ dev: number; low: boolean }];
  const range = low ? `-9223372036854775808, ${half}` : `${half}, 9223372036854775807`;
  await query(db, 'CREATE TABLE _timescaledb_internal.b_chunk (LIKE ht INCLUDING CONSTRAINTS)');
  await query(db, `CALL attach_chunk('ht', '_timescaledb_internal.b_chunk', '{"ts": ["2025-01-02 00:00+00", "2025-01-09 00:00+00"], "dev": [${range}]}')`);
  if (bRow) await insertB(db);
  const [{ n }] = (await query<{ n: number }>(
    db,
    `SELECT count(*)::int AS n FROM timescaledb_information.chunks a JOIN timescaledb_information.chunks b ON a.chunk_name < b.chunk_name
      WHERE a.hypertable_name = 'ht' AND b.hypertable_name = 'ht' AND a.range_start < b.range_end AND b.range_start < a.range_end`,
  )) as [{ n: number }];
  expect(n).toBe(1);
}

async function insertB(db: string) {
  const half = 1073741823n;
  const hash = `_timescaledb_functions.get_partition_hash`;
  const [{ dev }] = (await query<{ dev: number }>(db, `SELECT d AS dev FROM generate_series(2, 50) d WHERE (${hash}(d) < ${half}) <> (${hash}(1) < ${half}) ORDER BY d LIMIT 1`)) as [{ dev: number }];
  await query(db, "INSERT INTO _timescaledb_internal.b_chunk VALUES ('2025-01-05 12:00+00', $1, 2)", [dev]);
}

describe('adversarial: hypertable chunks whose time ranges overlap', () => {
  it('FingerprintWhileLoading: the slice [Jan 3, ∞) must wait for chunk B, whose rows it reads', async () => {
    const db = await createDatabase(stack.postgresUrl, 'advovl');
    await overlapping(db, false);
    const connectTo = async () => {
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      return c;
    };
    const ht: TableName = { schema: 'public', name: 'ht' };
    const chunks = await query<{ schema: string; name: string }>(db, "SELECT chunk_schema AS schema, chunk_name AS name FROM timescaledb_information.chunks WHERE hypertable_name = 'ht' ORDER BY range_start");
    const [b, a] = chunks; // B starts Jan 2, A Jan 3
    expect(b!.name).toBe('b_chunk');
    const line = (id: number, c: { schema: string; name: string }) => `${id}; 0 0 TABLE DATA ${c.schema} ${c.name} me`;
    const v = await FingerprintWhileLoading.start(connectTo, [{ table: ht, algo: 'mixed' }], [line(100, ht), line(201, a!), line(202, b!)].join('\n'));
    v.entryDone(100);
    v.entryDone(201); // A and the hypertable are loaded; B is still loading
    await v.whenIdle();
    await insertB(db); // B's COPY commits
    v.entryDone(202);
    const [got] = await v.finish(2);
    const c = await connectTo();
    await c.query(NORMALISE_SESSION);
    const whole = await fingerprintTable(c, ht);
    await c.end();
    expect(whole.rows).toBe(2);
    // Expected: equal to one scan (2 rows). Observed: 1 row: slice [Jan 3, ∞) was hashed before B's row
    // was in (early.parts 1), because sliceUnits ties a chunk only to the slice its range_start is in.
    expect({ rows: got!.rows, hash: got!.hash, early: v.early }).toEqual({ rows: whole.rows, hash: whole.hash, early: expect.anything() });
  });

  // Passes on current code: in the real restore the early hash of that slice happens to see B's row.
  it('the same through backup and restore (CLI) restores and verifies', async () => {
    const env = advEnv();
    const source = await createDatabase(stack.postgresUrl, 'advovl');
    await overlapping(source, true);
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    expect(await query(r.target, 'SELECT count(*)::int AS n FROM ht')).toEqual([{ n: 2 }]);
    expect({ code: r.code, error: errorOf(r), early: earlyOf(r) }).toMatchObject({ code: 0, error: undefined });
  }, 180_000);
});
