import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { fingerprintParallel, fingerprintTable } from '../../runbooks/stores/postgres/fingerprint';
import { timeSlices } from '../../runbooks/stores/postgres/fingerprint-parts';
import { NORMALISE_SESSION } from '../../runbooks/stores/postgres/sql';
import { query } from '../helpers/databases';
import { advEnv, backup, earlyOf, errorOf, restore, sourceWith } from '../helpers/adv';

/**
 * Adversarial, false alarms: a hypertable whose time column is text, mapped to
 * time by a time_partitioning_func (public TimescaleDB API). Chunk bounds are
 * the function's output (range_start_integer, µs); timeSlices casts them to
 * the column's type (text) and slicePart compares the column with them, read
 * through the hypertable where TimescaleDB applies the function to the bound.
 */
const stack = inject('stack');

async function epochTable(fn: string) {
  const source = await sourceWith(stack.postgresUrl, 'advpf', [
    'CREATE EXTENSION IF NOT EXISTS timescaledb',
    `CREATE FUNCTION public.epoch_ts(v text) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ ${fn} $$`,
    // Only in pg_restore's sessions (restoring mode): the row with v = 3 takes 4 s to load.
    `CREATE FUNCTION public.slow_v(v int) RETURNS boolean LANGUAGE plpgsql AS $$
       BEGIN IF v = 3 AND current_setting('timescaledb.restoring', true) = 'on' THEN PERFORM pg_sleep(4); END IF; RETURN true; END $$`,
    'CREATE TABLE et (t text NOT NULL, v int CHECK (public.slow_v(v)))',
    "SELECT create_hypertable('et', 't', chunk_time_interval => interval '1 day', time_partitioning_func => 'public.epoch_ts')",
    // 2025-01-01, -02, -03 at noon: three chunks.
    "INSERT INTO et VALUES ('1735732800', 1), ('1735819200', 2), ('1735905600', 3)",
  ]);
  expect(await query(source, "SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'et'")).toEqual([{ n: 3 }]);
  return source;
}

describe('adversarial: hypertable with a time partitioning function', () => {
  it('fingerprintParallel (no restore) equals one scan of the table', async () => {
    const db = await epochTable("SELECT CASE WHEN v ~ '^[0-9]{1,11}$' THEN to_timestamp(v::bigint) ELSE timestamptz 'epoch' END");
    const connectTo = async () => {
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      return c;
    };
    const et = { schema: 'public', name: 'et' };
    const c = await connectTo();
    await c.query(NORMALISE_SESSION);
    const whole = await fingerprintTable(c, et);
    const slices = await timeSlices(c, et);
    await c.end();
    const [parallel] = await fingerprintParallel(connectTo, [{ table: et, algo: 'mixed' }], 2);
    // Expected: equal (3 rows). Observed: 4 rows. timeSlices gives {column: 't', type: 'text', bounds:
    // ['1735776000000000', '1735862400000000']} (range_start_integer: the function's output, in µs),
    // and slicePart's `t >= '…'::text` quals are read through TimescaleDB, which excludes chunks by
    // epoch_ts(bound): one row is counted in two slices.
    expect({ rows: parallel!.rows, hash: parallel!.hash, slices }).toEqual({ rows: whole.rows, hash: whole.hash, slices: expect.anything() });
  });

  it('text epoch column, to_timestamp(v::bigint): restores and verifies', async () => {
    const env = advEnv();
    const source = await epochTable('SELECT to_timestamp(v::bigint)');
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    expect(await query(r.target, 'SELECT count(*)::int AS n FROM et')).toEqual([{ n: 3 }]);
    // Expected: exit 0. Observed: exit 1 'public.et: timestamp out of range: "1.73578e+15"': the slices
    // compare the text column with chunk bounds (range_start_integer, microseconds) as text, and
    // TimescaleDB's chunk exclusion applies epoch_ts to the bound literal.
    expect({ code: r.code, error: errorOf(r) }).toEqual({ code: 0, error: undefined });
  }, 180_000);

  it('text epoch column, a partitioning function defined for any text: restores and verifies', async () => {
    const env = advEnv();
    const source = await epochTable("SELECT CASE WHEN v ~ '^[0-9]{1,11}$' THEN to_timestamp(v::bigint) ELSE timestamptz 'epoch' END");
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    expect(await query(r.target, 'SELECT count(*)::int AS n FROM et')).toEqual([{ n: 3 }]);
    // Expected: exit 0. Observed: exit 3 "public.et: 4 rows, backup had 3" (as above, the slices overlap).
    expect({ code: r.code, error: errorOf(r), early: earlyOf(r) }).toMatchObject({ code: 0, error: undefined });
  }, 180_000);
});
