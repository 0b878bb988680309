import { beforeAll, describe, expect, inject, it } from 'vitest';
import { copyAcross } from '../../runbooks/migrations/copy/cross-database';
import { compareTables } from '../../runbooks/verify/compare';
import { createDatabase, query } from '../helpers/databases';
import { requireTimescale } from '../helpers/timescale';
import { buildTimescaleFixture } from '../helpers/timescale-fixture';

// Issue #11 item 6: copying into a hypertable runs in batches aligned to its
// chunks, and segment-hash verification holds when the SOURCE is a
// compressed hypertable and the target's chunks are compressed too.
const stack = inject('stack');
const TICKS = { schema: 'public', name: 'tick_data' };
let ready = false;
let source = '';

const rowsHash = async (url: string) => (await query<{ n: string; h: string }>(url, "SELECT count(*)::text AS n, md5(string_agg(format('%s|%s|%s|%s|%s', id, symbol, ts, price, volume), ',' ORDER BY id, ts)) AS h FROM public.tick_data"))[0];

beforeAll(async () => {
  ready = await requireTimescale(stack.postgresUrl, 'copy into a hypertable');
  if (!ready) return;
  source = await createDatabase(stack.postgresUrl, 'htsrc');
  await buildTimescaleFixture(source, { days: 20, perDay: 300 });
});

describe('copy into a hypertable (compressed source)', () => {
  it('batches follow the target chunks; segment hashes agree across compressed chunks on both sides and find a changed compressed row', async (t) => {
    if (!ready) t.skip();
    const [src] = await query<{ compressed: string }>(source, "SELECT count(*) FILTER (WHERE is_compressed)::text AS compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'tick_data'");
    expect(Number(src!.compressed)).toBeGreaterThan(0);

    const target = await createDatabase(stack.postgresUrl, 'httgt');
    for (const sql of [
      'CREATE EXTENSION IF NOT EXISTS timescaledb',
      'CREATE TABLE public.tick_data (id bigint NOT NULL, symbol text NOT NULL, ts timestamptz NOT NULL, price numeric(18,2) NOT NULL, volume numeric(18,8) NOT NULL, PRIMARY KEY (id, ts))',
      "SELECT create_hypertable('public.tick_data', 'ts', chunk_time_interval => interval '1 day')",
    ]) await query(target, sql);
    const result = await copyAcross({ plan: 'ht-copy-test', sourceUrl: source, targetUrl: target, source: TICKS, target: TICKS, jobs: 2, primaryKey: ['id', 'ts'] });
    expect(result.splitBy).toBe('ts');
    expect(result.rows).toBe(6000);

    // Plain SQL: every interior batch boundary is a chunk boundary, and no chunk straddles two batches.
    const batches = await query<{ lo: string | null; hi: string | null }>(target, "SELECT lo, hi FROM tickvault.copy_batches WHERE plan = 'ht-copy-test' ORDER BY batch");
    expect(batches.length).toBeGreaterThan(1);
    const starts = new Set((await query<{ s: string }>(target, "SELECT extract(epoch FROM range_start)::bigint::text AS s FROM timescaledb_information.chunks WHERE hypertable_name = 'tick_data'")).map((r) => r.s));
    for (const b of batches.slice(1)) expect(starts.has(String(Date.parse(b.lo!) / 1000)), `boundary ${b.lo}`).toBe(true);
    const straddling = await query(target, `SELECT c.chunk_name FROM timescaledb_information.chunks c, (SELECT lo::timestamptz AS lo FROM tickvault.copy_batches WHERE plan = 'ht-copy-test' AND lo IS NOT NULL) b
      WHERE c.hypertable_name = 'tick_data' AND b.lo > c.range_start AND b.lo < c.range_end`);
    expect(straddling).toEqual([]);
    expect(await rowsHash(target)).toEqual(await rowsHash(source));

    // Compressed source vs uncompressed target, then vs compressed target.
    expect(await compareTables({ url: source, table: TICKS }, { url: target, table: TICKS })).toMatchObject({ equal: true, sourceRows: 6000, targetRows: 6000 });
    await query(target, "ALTER TABLE public.tick_data SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts DESC')");
    await query(target, "SELECT count(compress_chunk(c)) FROM show_chunks('public.tick_data', older_than => interval '7 days') c");
    const [tc] = await query<{ n: string }>(target, "SELECT count(*) FILTER (WHERE is_compressed)::text AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'tick_data'");
    expect(Number(tc!.n)).toBeGreaterThan(Number(src!.compressed));
    expect(await compareTables({ url: source, table: TICKS }, { url: target, table: TICKS })).toMatchObject({ equal: true });

    // A row changed inside a compressed chunk, and one added to it, are found by key.
    const [old] = await query<{ id: string; ts: string }>(target, "SELECT id::text, ts::text FROM public.tick_data WHERE ts < now() - interval '18 days' ORDER BY id LIMIT 1");
    await query(target, 'UPDATE public.tick_data SET price = price + 1 WHERE id = $1', [old!.id]);
    await query(target, "INSERT INTO public.tick_data VALUES (777777, 'BTC-USD', now() - interval '19 days', 1, 1)");
    const diff = await compareTables({ url: source, table: TICKS }, { url: target, table: TICKS }, { key: ['id'] });
    expect(diff.equal).toBe(false);
    expect(diff.differences.map((d) => `${d.key} ${d.kind}`).sort()).toEqual([`${old!.id} changed`, '777777 extra in target'].sort());
    expect(diff.differences.find((d) => d.kind === 'changed')?.columns?.map((c) => c.split(' ')[0])).toEqual(['price']);
  });
});
