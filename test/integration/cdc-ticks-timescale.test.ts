import { describe, expect, it } from 'vitest';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import { ticksToTimescale } from '../../runbooks/migrations/plans/ticks-to-timescale';
import { LiveWriter, tickStep } from '../helpers/cdc-writer';
import { query } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { timescaleReady } from '../helpers/timescale';

// Seed 004 on a TimescaleDB hypertable target, with ticks inserted, corrected
// (price, and ts: a row changes chunk) and deleted on the source throughout.
const fx = migrationFixture();
const TICKS = 'public.tick_data';

/** Independent: count and md5 of every tick's text, ordered by id. */
async function ticksHash(url: string): Promise<{ n: string; h: string | null }> {
  const [row] = await query<{ n: string; h: string | null }>(url, "SELECT count(*)::text AS n, md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s', id, symbol, ts, price, volume, side, exchange), E'\\n' ORDER BY id)) AS h FROM public.tick_data");
  return row!;
}

describe('ticks-to-timescale keeps the hypertable in sync by change capture', () => {
  it('live writer from backfill to cutover: hypertable equals the source at the fence; rollback returns target writes to the source; slot gone', { timeout: 300_000 }, async () => {
    const source = await fx.seeded();
    const target = await fx.empty('cdcts');
    const timescale = await timescaleReady(fx.stack.postgresUrl);
    const settings = fx.engine(target, source);
    const [{ max }] = (await query<{ max: string }>(source, 'SELECT max(id)::text AS max FROM public.tick_data')) as [{ max: string }];
    const writer = await new LiveWriter(source, TICKS, Number(max) + 1, 5, tickStep).start();
    try {
      for (const phase of ['preflight', 'backup', 'expand', 'backfill', 'verify', 'dual-write'] as const) {
        await inProcess((run) => runPlan(run, ticksToTimescale, {}, settings, { phase, all: false }));
        await writer.more(150);
      }
      await inProcess((run) => runPlan(run, ticksToTimescale, {}, settings, { phase: 'cutover', all: false }));
      await writer.more(2, 'fenced');
    } finally {
      await writer.stop();
    }
    expect(writer.counts.updates).toBeGreaterThan(100);
    expect(writer.counts.deletes).toBeGreaterThan(30);
    const atCutover = await ticksHash(source);
    expect(await ticksHash(target)).toEqual(atCutover);
    if (timescale) expect(await query(target, "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'tick_data'")).toHaveLength(1);
    const [cut] = await query<{ details: { equalAtLsn: string } }>(target, "SELECT details FROM tickvault.migration_events WHERE phase = 'cutover' AND event = 'end'");
    expect(cut!.details.equalAtLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);

    // Readers and writers now use the hypertable; rollback must not lose these writes.
    const [{ top }] = (await query<{ top: string }>(target, 'SELECT max(id)::text AS top FROM public.tick_data')) as [{ top: string }];
    const onTarget = await new LiveWriter(target, TICKS, Number(top) + 1, 9, tickStep).start();
    await onTarget.more(150);
    await onTarget.stop();
    const targetState = await ticksHash(target);
    await inProcess((run) => rollbackPlan(run, ticksToTimescale, {}, settings));
    expect(await ticksHash(source)).toEqual(targetState);
    expect(await query(source, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database()")).toEqual([]);
    expect(await query(source, "SELECT pubname FROM pg_publication")).toEqual([]);
    expect(await query(source, "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tickvault%'")).toEqual([]);
  });
});
