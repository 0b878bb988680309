import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureName } from '../../runbooks/migrations/cdc/names';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import type { PhaseId } from '../../runbooks/migrations/plan';
import { copyTable } from '../../runbooks/migrations/plans/copy-table';
import { CDC_TABLE_DDL } from '../helpers/cdc-writer';
import { query } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';

// Hygiene (issue #13 item 5): slots hold WAL and can fill a disk, so
// preflight and `migrate status` report every slot left behind: one from
// an abandoned tickvault run (backfill done, never cleaned up) and a
// foreign one, each with the WAL it holds, held against plain SQL.
const fx = migrationFixture();
const ABANDONED = 'public."abandoned ""run"""';
const NEXT = 'public."next; table"';
const FOREIGN = `foreign_${crypto.randomBytes(4).toString('hex')}`;
let source = '';
let target = '';
let abandonedSlot = '';

/** Independent: the WAL a slot holds, by plain SQL. */
async function retained(slot: string): Promise<number> {
  const [row] = await query<{ b: string }>(source, 'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS b FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return Number(row!.b);
}

const args = (table: string) => ['--plan', 'copy-table', '--table', table, '--source-url', source, '--target-url', target, '--json'];
const slotEvents = (events: Record<string, unknown>[], slot: string) => events.filter((e) => e.slot === slot);

beforeAll(async () => {
  source = await fx.empty('slotsrc');
  target = await fx.empty('slotdst');
  for (const table of [ABANDONED, NEXT]) for (const sql of CDC_TABLE_DDL(table, 300)) await query(source, sql);
  // An abandoned run: backfill made its capture, then nobody came back.
  for (const phase of ['preflight', 'backfill'] as PhaseId[]) await inProcess((run) => runPlan(run, copyTable, { table: ABANDONED }, fx.engine(target, source), { phase, all: false }));
  abandonedSlot = captureName('copy-table', copyTable.scope({ table: ABANDONED }), target);
  await query(source, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [FOREIGN]);
  // WAL the two slots must keep from now on.
  await query(source, `UPDATE ${ABANDONED} SET big = repeat(md5(random()::text), 100)`);
}, 300_000);

afterAll(async () => {
  await query(source, 'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [FOREIGN]);
  await inProcess((run) => rollbackPlan(run, copyTable, { table: ABANDONED }, fx.engine(target, source)));
});

describe('slots left behind', () => {
  it('exist as set up (plain SQL): the abandoned capture and the foreign slot hold WAL', async () => {
    expect(await retained(abandonedSlot)).toBeGreaterThan(100_000);
    expect(await retained(FOREIGN)).toBeGreaterThan(100_000);
  });

  it("preflight of another table warns about both, with the WAL each holds (and how to drop it); it still passes", { timeout: 120_000 }, async () => {
    const low = { a: await retained(abandonedSlot), f: await retained(FOREIGN) };
    const pre = await runRunbook('migrate', ['run', ...args(NEXT), '--phase', 'preflight'], { env: fx.env });
    const high = { a: await retained(abandonedSlot), f: await retained(FOREIGN) };
    expect(pre.code, pre.stdout.slice(-1500)).toBe(0);
    const [a] = slotEvents(pre.events, abandonedSlot);
    const [f] = slotEvents(pre.events, FOREIGN);
    expect(a).toMatchObject({ event: 'warn', tickvault: true, thisCapture: false });
    expect(f).toMatchObject({ event: 'warn', tickvault: false, thisCapture: false });
    expect(a!.retainedBytes).toBeGreaterThanOrEqual(low.a);
    expect(a!.retainedBytes).toBeLessThanOrEqual(high.a);
    expect(f!.retainedBytes).toBeGreaterThanOrEqual(low.f);
    expect(f!.retainedBytes).toBeLessThanOrEqual(high.f);
    expect(String(a!.message)).toMatch(/tickvault, another migration .* holds [0-9.]+ [KM]iB of WAL/);
    expect(String(f!.message)).toContain(`pg_drop_replication_slot('${FOREIGN}')`);
  });

  it('status of that other migration lists both as warnings; status of the abandoned one shows its own slot and lag', { timeout: 120_000 }, async () => {
    const low = await retained(FOREIGN);
    const other = await runRunbook('migrate', ['status', ...args(NEXT)], { env: fx.env });
    expect(other.code, other.stdout.slice(-1500)).toBe(0);
    const slots = other.summary!.slots as { slot: string; retainedBytes: number; thisCapture: boolean; tickvault: boolean }[];
    expect(slots.find((s) => s.slot === abandonedSlot)).toMatchObject({ tickvault: true, thisCapture: false });
    const f = slots.find((s) => s.slot === FOREIGN)!;
    expect(f).toMatchObject({ tickvault: false, thisCapture: false });
    expect(f.retainedBytes).toBeGreaterThanOrEqual(low);
    expect(f.retainedBytes).toBeLessThanOrEqual(await retained(FOREIGN));
    expect(slotEvents(other.events, FOREIGN)[0]).toMatchObject({ event: 'warn' });
    // Nothing of NEXT was captured: no lag of its own.
    expect(other.summary!.lag).toBeNull();

    const own = await runRunbook('migrate', ['status', ...args(ABANDONED)], { env: fx.env });
    expect(own.code).toBe(0);
    expect((own.summary!.slots as { slot: string; thisCapture: boolean }[]).find((s) => s.slot === abandonedSlot)).toMatchObject({ thisCapture: true });
    expect(slotEvents(own.events, abandonedSlot)[0]).toMatchObject({ event: 'info' });
    expect(slotEvents(own.events, FOREIGN)[0]).toMatchObject({ event: 'warn' });
    // The UPDATE of all 300 rows made after backfill is pending.
    expect(own.summary!.lag).toMatchObject({ pendingChanges: 300, slotPresent: true });
    expect((own.summary!.lag as { bytes: number }).bytes).toBeGreaterThan(0);
  });
});
