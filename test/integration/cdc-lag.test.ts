import { beforeAll, describe, expect, it } from 'vitest';
import { runPlan, watchParity } from '../../runbooks/migrations/engine';
import type { AnyPlan, PhaseId } from '../../runbooks/migrations/plan';
import { copyTable } from '../../runbooks/migrations/plans/copy-table';
import { CDC_TABLE_DDL } from '../helpers/cdc-writer';
import { query } from '../helpers/databases';
import { inProcess, migrationFixture } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';

// Lag is visible (issue #13 item 2): `watch` prints the backlog each check
// finds and warns when it grows, never when it is flat or zero; `status`
// shows lag bytes, seconds, pending and applied counts. Lag is driven by
// writes made at fixed points of the watch loop (inside its parity hook,
// after the check's own catch-up), so the next check finds exactly them:
// synchronised by the loop itself, never by time.
const fx = migrationFixture();
const TABLE = 'public."lag ""watch"" table"';
const OPTIONS = { table: TABLE };
const DAY = 86_400_000;
let source = '';
let target = '';
/** Every row change made on the source since the capture began (exact, by rowCount). */
let written = 0;

/** Update `n` existing rows in one statement; returns the rows changed (plain SQL). */
async function update(n: number): Promise<number> {
  const client = await import('pg').then((pg) => new pg.default.Client({ connectionString: source }));
  await client.connect();
  try {
    const r = await client.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id <= $1`, [n]);
    written += r.rowCount ?? 0;
    return r.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

/** Independent: row changes the source's slot holds for this capture, by decoding pgoutput's message tags in SQL. */
async function pendingBySql(): Promise<{ changes: number; bytes: number }> {
  const [row] = await query<{ changes: string; bytes: string }>(source, `
    SELECT (SELECT count(*) FROM pg_logical_slot_peek_binary_changes(s.slot_name, NULL, NULL, 'proto_version', '1', 'publication_names', s.slot_name) c
             WHERE get_byte(c.data, 0) IN (73, 85, 68, 84))::text AS changes,
           pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS bytes
      FROM pg_replication_slots s WHERE s.database = current_database() AND s.slot_name LIKE 'tickvault\\_%'`);
  return { changes: Number(row!.changes), bytes: Number(row!.bytes) };
}

const backlogs = (events: Record<string, unknown>[]) => events.filter((e) => e.backlog).map((e) => e.backlog as { bytes: number; seconds: number; pendingChanges: number });
const growthWarnings = (events: Record<string, unknown>[]) => events.filter((e) => e.event === 'warn' && e.lagGrew);

beforeAll(async () => {
  source = await fx.empty('lagsrc');
  target = await fx.empty('lagdst');
  for (const sql of CDC_TABLE_DDL(TABLE, 2000)) await query(source, sql);
  const settings = fx.engine(target, source, DAY);
  for (const phase of ['preflight', 'backfill', 'verify', 'dual-write'] as PhaseId[]) await inProcess((run) => runPlan(run, copyTable, OPTIONS, settings, { phase, all: false }));
}, 300_000);

describe('replication lag in watch and status', () => {
  it('watch on an idle source (the CLI, three checks): lag 0 bytes, 0 changes, and no "lag grew" warning', { timeout: 180_000 }, async () => {
    const watch = await runRunbook('migrate', ['watch', '--plan', 'copy-table', '--table', TABLE, '--source-url', source, '--target-url', target, '--safety-window', '1d', '--interval', '0', '--checks', '3', '--json'], { env: fx.env });
    expect(watch.code, watch.stdout.slice(-1500)).toBe(0);
    const found = backlogs(watch.events);
    expect(found).toHaveLength(3);
    // Other databases on this cluster write WAL all the time; none of it is this capture's lag.
    for (const b of found) expect(b).toMatchObject({ bytes: 0, seconds: 0, pendingChanges: 0 });
    expect(growthWarnings(watch.events)).toEqual([]);
  });

  it('watch warns once when the backlog between checks grows (150 → 1,500 changes), not while it is flat (150 → 150)', { timeout: 180_000 }, async () => {
    // After check k's own catch-up, write plan[k] changes: check k+1 finds exactly those pending.
    const plan = [150, 150, 1500];
    const made: number[] = [];
    const driven: AnyPlan = {
      ...copyTable,
      parity: async (ctx) => {
        const details = await copyTable.parity!(ctx);
        const n = plan[made.length];
        if (n !== undefined) made.push(await update(n));
        return details;
      },
    };
    const events: Record<string, unknown>[] = [];
    await inProcess((run) => watchParity(run, driven, OPTIONS, fx.engine(target, source, DAY), { intervalMs: 0, checks: 4 }), events);
    expect(made).toEqual([150, 150, 1500]);
    const found = backlogs(events);
    expect(found.map((b) => b.pendingChanges)).toEqual([0, 150, 150, 1500]);
    // Bytes are the cluster's WAL (other test files write too): only "behind" is certain, not by how much.
    for (const b of found.slice(1)) expect(b.bytes).toBeGreaterThan(0);
    const warned = growthWarnings(events);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ pendingChanges: 1500, previousPendingChanges: 150 });
    expect(String(warned[0]!.message)).toMatch(/replication lag grew from 150 to 1500 pending changes/);
  });

  it('status shows lag bytes and seconds, pending and applied changes, held against plain SQL', { timeout: 120_000 }, async () => {
    const before = Date.now();
    expect(await update(200)).toBe(200);
    const independent = await pendingBySql();
    expect(independent.changes).toBe(200);
    const status = await runRunbook('migrate', ['status', '--plan', 'copy-table', '--table', TABLE, '--source-url', source, '--target-url', target, '--json'], { env: fx.env });
    const elapsed = (Date.now() - before) / 1000;
    expect(status.code, status.stdout.slice(-1500)).toBe(0);
    const after = await pendingBySql();
    const lag = status.summary!.lag as { bytes: number; seconds: number; pendingChanges: number; applied: { updates: number; inserts: number; deletes: number } };
    expect(lag.pendingChanges).toBe(200);
    expect(lag.bytes).toBeGreaterThanOrEqual(independent.bytes);
    expect(lag.bytes).toBeLessThanOrEqual(after.bytes);
    expect(lag.seconds).toBeGreaterThanOrEqual(0);
    expect(lag.seconds).toBeLessThanOrEqual(elapsed + 0.1);
    // Applied: every change written before this one (the watch caught them up), none of these 200.
    const [progress] = await query<{ updates: string }>(target, 'SELECT updates::text FROM tickvault.cdc_progress');
    expect(lag.applied).toMatchObject({ updates: written - 200, inserts: 0, deletes: 0 });
    expect(Number(progress!.updates)).toBe(written - 200);
    // The human form says the same.
    const human = await runRunbook('migrate', ['status', '--plan', 'copy-table', '--table', TABLE, '--source-url', source, '--target-url', target], { env: fx.env });
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(new RegExp(`lag [0-9.]+ \\w+ \\(\\d+ bytes\\), [0-9.]+ s, 200 change\\(s\\) pending; applied \\d+ transactions \\(0 inserts, ${written - 200} updates, 0 deletes`));
    // A catch-up brings it to zero.
    await inProcess((run) => watchParity(run, copyTable, OPTIONS, fx.engine(target, source, DAY), { intervalMs: 0, checks: 1 }));
    const zero = await runRunbook('migrate', ['status', '--plan', 'copy-table', '--table', TABLE, '--source-url', source, '--target-url', target, '--json'], { env: fx.env });
    expect(zero.summary!.lag).toMatchObject({ bytes: 0, seconds: 0, pendingChanges: 0, applied: { updates: written } });
  });
});
