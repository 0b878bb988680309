import { withClient } from '../../stores/postgres/connect';
import { canCreateTimescale, describeInventory, inventoryDifferences, timescaleInventory, type TimescaleInventory } from '../../stores/postgres/timescale';

/**
 * Seed 004's TimescaleDB layout on the drill's seeded database: tick_data a
 * hypertable (6-hour chunks), compressed by symbol / time desc with a
 * compression policy, and four OHLCV continuous aggregates (1m, 5m, 1h, 1d)
 * with refresh policies.
 *
 * The chunks the policy would compress are compressed up front, and each
 * refresh policy ends at least one bucket (and an hour) before now: a policy
 * run during the drill (a logical restore restarts the scheduler) changes
 * nothing the checks compare.
 */
const AGGREGATES = [
  { name: 'tick_ohlcv_1m', bucket: '1 minute', start: '1 day', end: '1 hour', every: '1 hour' },
  { name: 'tick_ohlcv_5m', bucket: '5 minutes', start: '2 days', end: '1 hour', every: '1 hour' },
  { name: 'tick_ohlcv_1h', bucket: '1 hour', start: '7 days', end: '2 hours', every: '1 hour' },
  { name: 'tick_ohlcv_1d', bucket: '1 day', start: '30 days', end: '1 day', every: '1 day' },
] as const;
const COMPRESS_AFTER = '12 hours';

export async function timescaleTicks(databaseUrl: string): Promise<TimescaleInventory | null> {
  return withClient(databaseUrl, async (c) => {
    if (!(await canCreateTimescale(c))) return null;
    await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
    // A hypertable's unique keys must contain its time column.
    await c.query('ALTER TABLE public.tick_data DROP CONSTRAINT tick_data_pkey');
    await c.query('ALTER TABLE public.tick_data ADD CONSTRAINT tick_data_pkey PRIMARY KEY (id, ts)');
    await c.query("SELECT create_hypertable('public.tick_data', 'ts', chunk_time_interval => interval '6 hours', migrate_data => true)");
    await c.query("ALTER TABLE public.tick_data SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts DESC')");
    await c.query(`SELECT count(compress_chunk(ch)) FROM show_chunks('public.tick_data', older_than => interval '${COMPRESS_AFTER}') ch`);
    await c.query(`SELECT add_compression_policy('public.tick_data', interval '${COMPRESS_AFTER}')`);
    for (const a of AGGREGATES) {
      await c.query(`CREATE MATERIALIZED VIEW public.${a.name} WITH (timescaledb.continuous) AS
        SELECT time_bucket('${a.bucket}', ts) AS bucket, symbol, first(price, ts) AS open, max(price) AS high, min(price) AS low,
               last(price, ts) AS close, sum(volume) AS volume, count(*) AS ticks
          FROM public.tick_data GROUP BY 1, 2 WITH DATA`);
      await c.query(`SELECT add_continuous_aggregate_policy('public.${a.name}', start_offset => interval '${a.start}', end_offset => interval '${a.end}', schedule_interval => interval '${a.every}')`);
    }
    return timescaleInventory(c);
  });
}

export const inventoryOf = (url: string): Promise<TimescaleInventory | null> => withClient(url, timescaleInventory);

/** A drill check: the TimescaleDB objects after recovery equal those before the disaster. */
export async function timescaleCheck(url: string, expected: TimescaleInventory | null): Promise<{ check: string; ok: boolean; detail?: string } | null> {
  if (!expected) return null;
  const got = await inventoryOf(url).catch((error: Error) => {
    throw new Error(`reading TimescaleDB objects: ${error.message}`);
  });
  const problems = inventoryDifferences(expected, got);
  return {
    check: 'hypertable chunks and compressed chunks, continuous aggregates (materialized rows) and jobs equal their state before the disaster',
    ok: problems.length === 0,
    detail: problems.length ? problems.slice(0, 5).join('; ') : describeInventory(got!),
  };
}
