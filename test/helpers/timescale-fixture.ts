import { query } from './databases';

/**
 * A real TimescaleDB layout, as seed 004 builds it: tick_data a hypertable
 * (1-day chunks) compressed by symbol / time desc with a compression policy,
 * and continuous aggregates with refresh policies. The ticks end two days
 * ago and exactly the chunks the compression policy would compress are
 * compressed, so a policy run after a restore (post_restore restarts the
 * scheduler) changes nothing the tests compare.
 */
export async function buildTimescaleFixture(url: string, opts: { days?: number; perDay?: number } = {}): Promise<void> {
  const days = opts.days ?? 20;
  const perDay = opts.perDay ?? 300;
  const statements = [
    'CREATE EXTENSION IF NOT EXISTS timescaledb',
    `CREATE TABLE public.tick_data (id bigint NOT NULL, symbol text NOT NULL, ts timestamptz NOT NULL, price numeric(18,2) NOT NULL, volume numeric(18,8) NOT NULL, PRIMARY KEY (id, ts))`,
    "SELECT create_hypertable('public.tick_data', 'ts', chunk_time_interval => interval '1 day')",
    `INSERT INTO public.tick_data SELECT g, (ARRAY['BTC-USD','ETH-USD','SOL-USD'])[1 + g % 3], date_trunc('day', now()) - interval '2 days' - interval '1 day' * ${days} + (g * interval '1 day' * ${days}) / ${days * perDay}, 100 + (g % 97) / 7.0, (g % 13) / 3.0 FROM generate_series(0, ${days * perDay - 1}) g`,
    "ALTER TABLE public.tick_data SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts DESC')",
    "SELECT count(compress_chunk(c)) FROM show_chunks('public.tick_data', older_than => interval '14 days') c",
    "SELECT add_compression_policy('public.tick_data', interval '14 days', initial_start => now() + interval '1 day')",
    `CREATE MATERIALIZED VIEW public.tick_ohlcv_1h WITH (timescaledb.continuous) AS
       SELECT time_bucket('1 hour', ts) AS bucket, symbol, first(price, ts) AS open, max(price) AS high, min(price) AS low, last(price, ts) AS close, sum(volume) AS volume, count(*) AS ticks
         FROM public.tick_data GROUP BY 1, 2 WITH DATA`,
    `CREATE MATERIALIZED VIEW public.tick_ohlcv_1d WITH (timescaledb.continuous) AS
       SELECT time_bucket('1 day', ts) AS bucket, symbol, first(price, ts) AS open, max(price) AS high, min(price) AS low, last(price, ts) AS close, sum(volume) AS volume, count(*) AS ticks
         FROM public.tick_data GROUP BY 1, 2 WITH DATA`,
    "SELECT add_continuous_aggregate_policy('public.tick_ohlcv_1h', start_offset => interval '400 days', end_offset => interval '1 hour', schedule_interval => interval '1 hour', initial_start => now() + interval '1 day')",
    "SELECT add_continuous_aggregate_policy('public.tick_ohlcv_1d', start_offset => interval '400 days', end_offset => interval '1 day', schedule_interval => interval '1 day', initial_start => now() + interval '1 day')",
  ];
  for (const sql of statements) await query(url, sql);
}

/** An independent picture of the TimescaleDB data: plain SQL over the hypertable, its chunks, aggregates and jobs. */
export async function timescaleFacts(url: string) {
  const [ticks] = await query<{ n: string; md5: string }>(url, "SELECT count(*)::text AS n, md5(string_agg(format('%s|%s|%s|%s|%s', id, symbol, ts, price, volume), ',' ORDER BY id, ts)) AS md5 FROM public.tick_data");
  const [chunks] = await query<{ chunks: string; compressed: string }>(url, "SELECT count(*)::text AS chunks, count(*) FILTER (WHERE is_compressed)::text AS compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'tick_data'");
  const aggregates: Record<string, { n: string; md5: string }> = {};
  for (const view of ['tick_ohlcv_1h', 'tick_ohlcv_1d']) {
    const [row] = await query<{ n: string; md5: string }>(url, `SELECT count(*)::text AS n, md5(string_agg(t::text, ',' ORDER BY t::text)) AS md5 FROM public.${view} t`);
    aggregates[view] = row!;
  }
  const jobs = (await query<{ job: string }>(url, "SELECT format('%s on %s %s', proc_name, hypertable_name, config) AS job FROM timescaledb_information.jobs WHERE job_id >= 1000 ORDER BY 1")).map((r) => r.job);
  const [ext] = await query<{ v: string }>(url, "SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'");
  return { ticks: ticks!, chunks: chunks!, aggregates, jobs, version: ext?.v };
}
