import { beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../helpers/databases';
import { advEnv, backup, earlyOf, errorOf, restore, sourceWith, verifiedAfterPostDataOf } from '../helpers/adv';

/**
 * Adversarial, false alarms: a correct restore of odd but legitimate tables
 * must verify (exit 0) on the path that hashes while loading, with and
 * without the split load; and the restored data must equal the source.
 */
const stack = inject('stack');
let source: string;

const ODD = [
  '"Odd ""Schema"""."Mixed Case"',
  '"a.b"."c d"',
  'public."x finished item 5 TABLE DATA"',
  'public."TABLE DATA public t me"',
  '"s1".dup',
  '"s2".dup',
];

beforeAll(async () => {
  source = await sourceWith(stack.postgresUrl, 'advodd', [
    'CREATE EXTENSION IF NOT EXISTS timescaledb',
    'CREATE SCHEMA "Odd ""Schema"""',
    'CREATE SCHEMA "a.b"',
    'CREATE SCHEMA s1',
    'CREATE SCHEMA s2',
    ...ODD.map((t, i) => `CREATE TABLE ${t} AS SELECT g AS id, 'v' || g AS "we""ird col" FROM generate_series(1, ${10 + i}) g`),
    // No key, duplicates.
    "CREATE TABLE nokey AS SELECT (g % 3) AS k, 'same' AS v FROM generate_series(1, 30) g",
    // Generated column, enum, domain.
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
    'CREATE DOMAIN posint AS int CHECK (VALUE > 0)',
    "CREATE TABLE gen (id posint, m mood, twice int GENERATED ALWAYS AS (id * 2) STORED)",
    "INSERT INTO gen (id, m) SELECT g, (ARRAY['sad','ok','happy']::mood[])[1 + g % 3] FROM generate_series(1, 50) g",
    'CREATE TABLE empty_one (id int)',
    // Loads for 3 s (restoring mode is on only in pg_restore's sessions): the rest is hashed beside it.
    `CREATE FUNCTION public.slowly(x int) RETURNS boolean LANGUAGE plpgsql AS $$
       BEGIN IF current_setting('timescaledb.restoring', true) = 'on' THEN PERFORM pg_sleep(3); END IF; RETURN true; END $$`,
    'CREATE TABLE zz_slow (x int CHECK (public.slowly(x)))',
    'INSERT INTO zz_slow VALUES (1)',
    // RLS on and forced, with a policy that hides every row.
    "CREATE TABLE secret AS SELECT g AS id FROM generate_series(1, 20) g",
    'ALTER TABLE secret ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE secret FORCE ROW LEVEL SECURITY',
    'CREATE POLICY nobody ON secret USING (false)',
    "CREATE UNLOGGED TABLE scratch AS SELECT g AS id FROM generate_series(1, 40) g",
    // Large objects.
    "SELECT lo_from_bytea(0, convert_to('large object ' || g, 'UTF8')) FROM generate_series(1, 3) g",
    // Partitioned (partitions load separately) with a default partition, and a sub-partitioned one.
    'CREATE TABLE parted (id int, d date) PARTITION BY RANGE (d)',
    "CREATE TABLE parted_2024 PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY HASH (id)",
    'CREATE TABLE parted_2024_h0 PARTITION OF parted_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 0)',
    'CREATE TABLE parted_2024_h1 PARTITION OF parted_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 1)',
    'CREATE TABLE parted_def PARTITION OF parted DEFAULT',
    "INSERT INTO parted SELECT g, date '2024-01-01' + g FROM generate_series(0, 700) g",
    // Inheritance: parent with rows of its own, a child with an extra column, a grandchild.
    'CREATE TABLE parent (id int, v text)',
    'CREATE TABLE child (extra int) INHERITS (parent)',
    'CREATE TABLE grandchild () INHERITS (child)',
    "INSERT INTO parent SELECT g, 'p' FROM generate_series(1, 5) g",
    "INSERT INTO child SELECT g, 'c', g FROM generate_series(1, 7) g",
    "INSERT INTO grandchild SELECT g, 'g', g FROM generate_series(1, 9) g",
    // Hypertable with compressed chunks, one partly compressed, and a continuous aggregate.
    'CREATE TABLE ticks (ts timestamptz NOT NULL, sym text, px double precision)',
    "SELECT create_hypertable('ticks', 'ts', chunk_time_interval => interval '1 day')",
    "INSERT INTO ticks SELECT timestamptz '2025-01-01' + g * interval '5 minutes', 'S' || (g % 4), g / 7.0 FROM generate_series(0, 2000) g",
    "ALTER TABLE ticks SET (timescaledb.compress, timescaledb.compress_segmentby = 'sym')",
    "SELECT compress_chunk(c) FROM show_chunks('ticks', older_than => timestamptz '2025-01-05') c",
    "INSERT INTO ticks VALUES ('2025-01-01 00:02:30+00', 'late', 1.5)",
    `CREATE MATERIALIZED VIEW ticks_hourly WITH (timescaledb.continuous) AS
       SELECT time_bucket('1 hour', ts) AS bucket, sym, count(*) AS n, avg(px) AS px FROM ticks GROUP BY 1, 2 WITH DATA`,
  ]);
}, 180_000);

async function contents(url: string) {
  const tables = [...ODD, 'nokey', 'gen', 'empty_one', 'secret', 'scratch', 'parted', 'parent', 'ONLY parent', 'child', 'grandchild', 'ticks', 'ticks_hourly', 'zz_slow'];
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = (await query(url, `SELECT count(*)::int AS n, coalesce(sum(hashtext(x::text)::bigint), 0)::text AS h FROM ${t} x`))[0];
  out.lo = (await query(url, 'SELECT count(*)::int AS n FROM pg_largeobject_metadata'))[0];
  return out;
}

describe('adversarial: odd tables restore and verify (no false alarm)', () => {
  it('pg_restore -j2: exit 0 and the data equals the source', async () => {
    const env = advEnv();
    const id = await backup(env, source);
    const r = await restore(env, source, id);
    expect({ code: r.code, error: errorOf(r) }, r.stderr).toEqual({ code: 0, error: undefined });
    // zz_slow's CHECK calls the database's own function: verification waits for the end of post-data.
    expect(verifiedAfterPostDataOf(r)).toEqual(['slowly(integer)']);
    expect(earlyOf(r)).toBeUndefined();
    expect(await contents(r.target)).toEqual(await contents(source));
  }, 240_000);

  it('every table through the split load: exit 0 and the data equals the source', async () => {
    const env = advEnv({ TICKVAULT_SPLIT_LOAD_MIN_BYTES: '0', TICKVAULT_SPLIT_LOAD_PIECE_BYTES: '4096' });
    const id = await backup(env, source);
    const r = await restore(env, source, id, ['--jobs', '3']);
    expect({ code: r.code, error: errorOf(r) }, r.stderr).toEqual({ code: 0, error: undefined });
    // zz_slow's CHECK calls the database's own function: verification waits for the end of post-data.
    expect(verifiedAfterPostDataOf(r)).toEqual(['slowly(integer)']);
    expect(earlyOf(r)).toBeUndefined();
    expect(await contents(r.target)).toEqual(await contents(source));
  }, 240_000);
});
