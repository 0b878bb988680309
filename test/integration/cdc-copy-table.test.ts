import { describe, expect, it } from 'vitest';
import { rollbackPlan, runPlan } from '../../runbooks/migrations/engine';
import { copyTable } from '../../runbooks/migrations/plans/copy-table';
import type { PhaseId } from '../../runbooks/migrations/plan';
import { CDC_TABLE_DDL, LiveWriter } from '../helpers/cdc-writer';
import { query } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';

// copy-table with a live writer: inserts, updates (TOAST left unchanged, key
// changes) and deletes run through backfill, verify, the window and cutover.
// Every verdict is held against a plain-SQL hash that shares nothing with tickvault.
const fx = migrationFixture();
const NAME = 'Ticks "live", v1';
const TABLE = `public."${NAME.replace(/"/g, '""')}"`;
const OPTIONS = { table: TABLE };

/** Independent: count and md5 of every row's text, ordered by key. */
async function tableHash(url: string): Promise<{ n: string; h: string | null }> {
  const [row] = await query<{ n: string; h: string | null }>(url, `SELECT count(*)::text AS n, md5(string_agg(t::text, E'\\n' ORDER BY id)) AS h FROM ${TABLE} t`);
  return row!;
}

async function sourceWithTable(rows = 3000): Promise<string> {
  const url = await fx.empty('cdcsrc');
  for (const sql of CDC_TABLE_DDL(TABLE, rows)) await query(url, sql);
  return url;
}

const slotsOn = async (url: string) => (await query<{ slot_name: string }>(url, "SELECT slot_name FROM pg_replication_slots WHERE database = current_database() AND slot_name LIKE 'tickvault\\_%'")).map((r) => r.slot_name);
const publicationsOn = async (url: string) => (await query(url, "SELECT pubname FROM pg_publication WHERE pubname LIKE 'tickvault\\_%'")).length;
const progressOf = async (url: string) => (await query<{ inserts: string; updates: string; deletes: string; transactions: string }>(url, 'SELECT inserts::text, updates::text, deletes::text, transactions::text FROM tickvault.cdc_progress'))[0]!;

describe('copy-table keeps the target in sync by change capture', () => {
  it('live writer through backfill, verify, window and cutover: equal at the fence LSN; rollback after cutover loses no target write; slot gone', { timeout: 300_000 }, async () => {
    const source = await sourceWithTable();
    const target = await fx.empty('cdcdst');
    const settings = fx.engine(target, source);
    const phase = (id: PhaseId) => inProcess((run) => runPlan(run, copyTable, OPTIONS, settings, { phase: id, all: false }));
    const writer = await new LiveWriter(source, TABLE, 3001).start();
    let beforeBackfill = 0;
    let afterBackfill = 0;
    try {
      await phase('preflight');
      beforeBackfill = writer.writes;
      await phase('backfill');
      afterBackfill = writer.writes;
      await writer.more(300);
      await phase('verify');
      await writer.more(300);
      await phase('dual-write');
      await writer.more(300);
      const events: Record<string, unknown>[] = [];
      await inProcess((run) => runPlan(run, copyTable, OPTIONS, settings, { phase: 'cutover', all: false }), events);
      // The source refuses writes from now on (superuser included).
      await writer.more(3, 'fenced');
    } finally {
      await writer.stop();
    }
    expect(writer.counts.updates).toBeGreaterThan(100);
    expect(writer.counts.deletes).toBeGreaterThan(30);
    const atCutover = await tableHash(source);
    expect(await tableHash(target)).toEqual(atCutover);
    const [cut] = await query<{ details: { equalAtLsn: string; writePauseMs: number } }>(target, "SELECT details FROM tickvault.migration_events WHERE phase = 'cutover' AND event = 'end'");
    expect(cut!.details.equalAtLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(cut!.details.writePauseMs).toBeGreaterThanOrEqual(0);
    // Captured: every change since the slot was made, which is during backfill, before its copy (exact counts: the kill test).
    const applied = await progressOf(target);
    const total = Number(applied.inserts) + Number(applied.updates) + Number(applied.deletes);
    expect(total).toBeGreaterThanOrEqual(writer.writes - afterBackfill);
    expect(total).toBeLessThanOrEqual(writer.writes - beforeBackfill);

    // status shows lag (bytes, seconds, counts) and the slot holding WAL.
    const status = await runRunbook('migrate', ['status', '--plan', 'copy-table', '--table', OPTIONS.table, '--source-url', source, '--target-url', target, '--json'], { env: fx.env });
    expect(status.code, status.stdout).toBe(0);
    expect(status.summary).toMatchObject({ lag: { bytes: expect.any(Number), seconds: expect.any(Number), applied: { updates: Number(applied.updates) } } });
    expect((status.summary!.slots as { slot: string }[]).map((s) => s.slot)).toEqual(expect.arrayContaining(await slotsOn(source)));

    // The application now writes to the target; a rollback must carry these writes back to the source.
    const onTarget = await new LiveWriter(target, TABLE, 900_000, 11).start();
    await onTarget.more(200);
    await onTarget.stop();
    const targetState = await tableHash(target);
    expect(targetState).not.toEqual(atCutover);
    await inProcess((run) => rollbackPlan(run, copyTable, OPTIONS, settings));
    expect(await tableHash(source)).toEqual(targetState);
    // Hygiene: slot, publication and fence are gone; the source takes writes again.
    expect(await slotsOn(source)).toEqual([]);
    expect(await publicationsOn(source)).toBe(0);
    expect(await query(source, "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tickvault%'")).toEqual([]);
    await query(source, `UPDATE ${TABLE} SET v = v + 1 WHERE id = 1`);
    expect(await query(target, `SELECT to_regclass('${TABLE.replace(/'/g, "''")}') AS t`)).toEqual([{ t: null }]);
  });

  it('kill -9 between the target commit and the slot advance: the re-run applies each change exactly once; cleanup removes the slot', { timeout: 300_000 }, async () => {
    const source = await sourceWithTable(1500);
    const target = await fx.empty('cdckill');
    const args = ['run', '--plan', 'copy-table', '--table', OPTIONS.table, '--source-url', source, '--target-url', target, '--json', '--safety-window', '0'];
    const migrate = (phase: string, env: NodeJS.ProcessEnv = {}) => runRunbook('migrate', [...args, '--phase', phase], { env: { ...fx.env, ...env } });
    for (const p of ['preflight', 'backfill']) {
      const r = await migrate(p);
      expect(r.code, r.stdout.slice(-2000)).toBe(0);
    }
    const writer = await new LiveWriter(source, TABLE, 1501, 3).start();
    await writer.more(500);
    await writer.stop();
    const killed = await migrate('verify', { TICKVAULT_TEST_KILL_AT: 'verify:cdc-applied' });
    expect(killed.code, killed.stdout.slice(-2000)).toBe(-1);
    // The batch committed on the target; the slot still returns it.
    expect(Number((await progressOf(target)).transactions)).toBeGreaterThan(0);
    const [{ pending }] = (await query<{ pending: string }>(source, "SELECT count(*)::text AS pending FROM pg_replication_slots s, pg_logical_slot_peek_binary_changes(s.slot_name, NULL, NULL, 'proto_version', '1', 'publication_names', s.slot_name) WHERE s.database = current_database() AND s.slot_name LIKE 'tickvault\\_%'")) as [{ pending: string }];
    expect(Number(pending)).toBeGreaterThan(0);
    const resumed = await migrate('verify');
    expect(resumed.code, resumed.stdout.slice(-2000)).toBe(0);
    const applied = await progressOf(target);
    expect({ inserts: Number(applied.inserts), updates: Number(applied.updates), deletes: Number(applied.deletes) }).toEqual({ inserts: writer.counts.inserts, updates: writer.counts.updates, deletes: writer.counts.deletes });
    expect(await tableHash(target)).toEqual(await tableHash(source));
    const window = await migrate('dual-write');
    expect(window.code, window.stdout.slice(-1500)).toBe(0);
    // watch applies what was captured at each check and prints the lag.
    const more = await new LiveWriter(source, TABLE, 900_000, 5).start();
    await more.more(100);
    await more.stop();
    const watch = await runRunbook('migrate', ['watch', ...args.slice(1), '--interval', '0', '--checks', '2'], { env: fx.env });
    expect(watch.code, watch.stdout.slice(-1500)).toBe(0);
    const lagEvents = watch.events.filter((e) => typeof e.message === 'string' && e.message.startsWith('replication lag') && e.lag);
    // --safety-window 0: the window is over after the first check.
    expect(lagEvents).toHaveLength(1);
    expect(lagEvents[0]).toMatchObject({ lag: { bytes: expect.any(Number), seconds: expect.any(Number), applied: { updates: expect.any(Number) } } });
    // Cutover killed after reverse capture went on, before its end is journaled; the target then takes writes.
    const cutKilled = await migrate('cutover', { TICKVAULT_TEST_KILL_AT: 'cutover:commit' });
    expect(cutKilled.code, cutKilled.stdout.slice(-1500)).toBe(-1);
    const onTarget = await new LiveWriter(target, TABLE, 950_000, 13).start();
    await onTarget.more(60);
    await onTarget.stop();
    // The re-run carries those writes to the source first and keeps the fence (one side takes writes, never both).
    const cut = await migrate('cutover');
    expect(cut.code, cut.stdout.slice(-1500)).toBe(0);
    expect(cut.events.find((e) => e.event === 'summary')).toBeDefined();
    expect(await tableHash(target)).toEqual(await tableHash(source));
    await expect(query(source, `DELETE FROM ${TABLE} WHERE id = 3`)).rejects.toThrow(/fenced/);
    expect(await slotsOn(source)).toHaveLength(1);
    const cleanup = await migrate('cleanup');
    expect(cleanup.code, cleanup.stdout.slice(-2000)).toBe(0);
    expect(await slotsOn(source)).toEqual([]);
    expect(await publicationsOn(source)).toBe(0);
    // The source stays fenced after cleanup: the target is the table of record.
    await expect(query(source, `DELETE FROM ${TABLE} WHERE id = 2`)).rejects.toThrow(/fenced/);
  });
});
