import type pg from 'pg';
import { exitCodeOf, VerificationError } from '../../engine/errors';
import { inTransaction } from '../../engine/transaction';
import { withClient } from '../../stores/postgres/connect';
import { qualify, tableLabel, type TableName } from '../../stores/postgres/sql';
import { describeTable } from '../copy/table-info';
import type { Details, PhaseContext } from '../plan';
import { convergedParity, type TableComparison } from './converge';
import { fence, unfence } from './fence';
import { captureLag } from './lag';
import { captureNameOf } from './phases';
import { reportSlot } from './print';
import { ensureProgress, forgetProgress } from './progress';
import { replayReverseSet, reverseLabel } from './reverse-set';
import { reverseCount, startReverse, stopReverse } from './reverse';
import { checkLogical, createCapture, dropCapture, listSlots, skipSlot } from './source';
import { drain, type CaptureSpec, type Route } from './stream';

/**
 * Change capture over several tables at once (seed 004: users, trades,
 * tick_data), the multi-table twin of phases.ts: ONE publication and ONE
 * slot for all of them, so their changes arrive in the source's commit order
 * and a transaction touching two tables is applied whole (foreign keys hold).
 *   backfill   withCaptureSet    (publication + slot before the copy's snapshot)
 *   dual-write windowSyncSet     (apply; parity of every table converges)
 *   cutover    cutoverSet        (fence every table, drain to the fence LSN, parity there, reverse capture on)
 *   cleanup    stopCaptureSet    (slot, publication, reverse capture removed; the source stays fenced)
 * Rollback of cutover (rollbackCutoverSet) replays the target's writes on
 * every table onto the source, in the order they were made, and lifts the fences.
 */
export interface SetTable {
  source: TableName;
  target: TableName;
  /** Upsert in place rather than delete + insert (a table other tables reference; see ApplyOptions). */
  inPlace?: boolean;
  /** Compare source and target (segment hashes), on its own connections. */
  compare: () => Promise<TableComparison>;
}

type Ctx = PhaseContext<unknown>;

const onSource = <T>(ctx: Ctx, fn: (source: pg.Client) => Promise<T>) => withClient(ctx.settings.sourceUrl, fn, '--source-url');

async function routes(source: pg.ClientBase, tables: Pick<SetTable, 'source' | 'target' | 'inPlace'>[]): Promise<Route[]> {
  const out: Route[] = [];
  for (const t of tables) out.push({ source: t.source, target: t.target, key: (await describeTable(source, t.source)).primaryKey, inPlace: t.inPlace ?? false });
  return out;
}

async function spec(ctx: Ctx, source: pg.ClientBase, tables: SetTable[]): Promise<CaptureSpec> {
  const r = await routes(source, tables);
  return { name: captureNameOf(ctx), target: r[0]!.target, key: r[0]!.key, routes: r };
}

/** Every table compared; one combined result (keys prefixed by table) plus rows per table. */
async function compareAll(tables: SetTable[]): Promise<TableComparison & { perTable: Record<string, number> }> {
  const perTable: Record<string, number> = {};
  const combined: TableComparison = { equal: true, sourceRows: 0, differences: [], truncated: false };
  for (const t of tables) {
    const r = await t.compare();
    perTable[tableLabel(t.source)] = r.sourceRows;
    combined.equal &&= r.equal;
    combined.sourceRows += r.sourceRows;
    combined.truncated ||= r.truncated;
    combined.differences.push(...r.differences.map((d) => ({ key: `${tableLabel(t.source)} ${d.key}`, kind: d.kind })));
  }
  return { ...combined, perTable };
}

const differenceList = (r: TableComparison) => r.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ');

/** Preflight: logical decoding usable for every table; every slot holding WAL reported. */
export async function preflightCaptureSet(ctx: Ctx, tables: TableName[]): Promise<Details> {
  return onSource(ctx, async (source) => {
    const replicaIdentity: Record<string, string> = {};
    for (const t of tables) replicaIdentity[tableLabel(t)] = (await checkLogical(source, t)).replicaIdentity;
    const slots = await listSlots(source);
    for (const s of slots) reportSlot(ctx.run, s, s.slot === captureNameOf(ctx), false);
    return { replicaIdentity, slotsOnSource: slots.length, slotsRetainedBytes: slots.reduce((n, s) => n + s.retainedBytes, 0) };
  });
}

/** Backfill: one publication and slot over every table, created before the copy's snapshot; a refused copy removes them. */
export async function withCaptureSet<T extends object>(ctx: Ctx, tables: SetTable[], copy: () => Promise<T>): Promise<T & { capture: string; captureStartLsn: string; captureTables: string[] }> {
  const name = captureNameOf(ctx);
  const capture = await onSource(ctx, async (source) => {
    for (const t of tables) await checkLogical(source, t.source);
    const only: boolean[] = [];
    for (const t of tables) only.push((await describeTable(source, t.source)).from.startsWith('ONLY '));
    const { startLsn } = await createCapture(source, name, tables.map((t) => t.source), only);
    await ensureProgress(ctx.target, name, startLsn);
    return { capture: name, captureStartLsn: startLsn, captureTables: tables.map((t) => tableLabel(t.source)) };
  });
  try {
    return { ...(await copy()), ...capture };
  } catch (error) {
    if ([2, 4].includes(exitCodeOf(error))) await stopCaptureSet(ctx, tables);
    throw error;
  }
}

/** Cleanup and backfill's rollback: slot, publication, progress and every table's reverse capture go. */
export async function stopCaptureSet(ctx: Ctx, tables: Pick<SetTable, 'source' | 'target'>[]): Promise<Details> {
  const name = captureNameOf(ctx);
  const dropped = await onSource(ctx, (source) => dropCapture(source, name));
  for (const t of tables) await stopReverse(ctx.target, t.target, reverseLabel(name, t.source));
  await forgetProgress(ctx.target, name);
  return dropped;
}

/** Apply what was captured: forward before cutover, the target's writes back onto the source after it. */
async function sync(ctx: Ctx, tables: SetTable[], source: pg.Client): Promise<Details> {
  const s = await spec(ctx, source, tables);
  if (ctx.recorded('cutover').equalAtLsn) {
    const replayed = await replayReverseSet(ctx.target, source, s.routes!, s.name);
    await skipSlot(source, s.name);
    return { replayedToSource: replayed };
  }
  const drained = await drain(source, ctx.target, s, { onBatch: (a) => ctx.progress(a.transactions, a.transactions, 'transactions'), checkpoint: ctx.checkpoint });
  return { appliedUpTo: drained.upto, applied: drained.applied };
}

/** Parity with writes held back on the side that takes them (SHARE locks on every table; reads go on). */
async function quiescedParity(ctx: Ctx, tables: SetTable[], source: pg.Client): Promise<Details> {
  const reverse = Boolean(ctx.recorded('cutover').equalAtLsn);
  return withClient(reverse ? ctx.settings.targetUrl : ctx.settings.sourceUrl, async (locker) => {
    const started = Date.now();
    return inTransaction(locker, async () => {
      await locker.query(`LOCK TABLE ${tables.map((t) => qualify(reverse ? t.target : t.source)).join(', ')} IN SHARE MODE`);
      const s = await spec(ctx, source, tables);
      let synced: Details;
      if (reverse) synced = { replayedToSource: await replayReverseSet(ctx.target, source, s.routes!, s.name) };
      else {
        const upto = (await locker.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
        synced = { applied: (await drain(source, ctx.target, s, { upto })).applied };
      }
      const result = await compareAll(tables);
      if (!result.equal) throw new VerificationError(`source and target differ with writes held back: ${differenceList(result)}`, { differences: result.differences.slice(0, 100) });
      return { rows: result.perTable, quiesced: true, writesHeldMs: Date.now() - started, ...synced };
    });
  }, reverse ? '--target-url' : '--source-url');
}

/** Parity of every table at any time: catch up, then converged under live writes (see convergedParity). */
export async function captureSetParity(ctx: Ctx, tables: SetTable[]): Promise<Details> {
  return onSource(ctx, async (source) => {
    let perTable: Record<string, number> = {};
    const compare = async () => {
      const r = await compareAll(tables);
      perTable = r.perTable;
      return r;
    };
    const result = await convergedParity(() => sync(ctx, tables, source), compare, () => quiescedParity(ctx, tables, source));
    return { ...result, rows: typeof result.rows === 'object' ? result.rows : perTable };
  });
}

/** Dual-write: apply what was captured since the backfill began; parity converges; lag recorded. */
export async function windowSyncSet(ctx: Ctx, tables: SetTable[]): Promise<Details> {
  const parity = await captureSetParity(ctx, tables);
  const lag = await onSource(ctx, (source) => captureLag(source, ctx.target, captureNameOf(ctx)));
  return { ...parity, lagBytes: lag.bytes, lagSeconds: lag.seconds, windowStartedAt: new Date().toISOString() };
}

/**
 * Cutover: fence every source table at once (waits for writers in flight,
 * refuses new ones), drain to the fence's LSN, prove every table equal
 * there, journal it, turn reverse capture on. A failure lifts the fences,
 * unless an earlier attempt had already turned reverse capture on (the
 * target may have taken writes: those are replayed onto the source first,
 * and the fences stay).
 */
export async function cutoverSet(ctx: Ctx, tables: SetTable[]): Promise<Details> {
  return onSource(ctx, async (source) => {
    const s = await spec(ctx, source, tables);
    const resumed = Boolean(ctx.recorded('cutover').equalAtLsn);
    const started = Date.now();
    await inTransaction(source, async () => {
      await source.query(`LOCK TABLE ${tables.map((t) => qualify(t.source)).join(', ')} IN EXCLUSIVE MODE`);
      for (const t of tables) await fence(source, t.source);
    });
    const fencedAt = Date.now();
    ctx.checkpoint('fenced');
    try {
      let replayed = 0;
      if (resumed) {
        replayed = await replayReverseSet(ctx.target, source, s.routes!, s.name);
        await skipSlot(source, s.name);
      }
      const fenceLsn = (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
      const drained = await drain(source, ctx.target, s, { upto: fenceLsn, checkpoint: ctx.checkpoint });
      const result = await compareAll(tables);
      if (!result.equal) throw new VerificationError(`source and target differ at the fence (LSN ${fenceLsn}): ${differenceList(result)}`, { differences: result.differences.slice(0, 100) });
      await ctx.note({ equalAtLsn: fenceLsn, rowsAtFence: result.perTable });
      for (const t of tables) await startReverse(ctx.target, t.target, reverseLabel(s.name, t.source));
      const writePauseMs = Date.now() - fencedAt;
      ctx.run.info(`${tables.map((t) => tableLabel(t.source)).join(', ')}: equal at LSN ${fenceLsn} (${Object.entries(result.perTable).map(([t, n]) => `${t} ${n}`).join(', ')} rows); source writes fenced, target takes writes; write pause ${writePauseMs} ms`);
      return { equalAtLsn: fenceLsn, rows: result.perTable, drained: drained.applied, fenceMs: fencedAt - started, writePauseMs, reverseCapture: true, ...(resumed ? { resumed: true, replayedToSource: replayed } : {}) };
    } catch (error) {
      if (!resumed) for (const t of tables) await unfence(source, t.source);
      throw error;
    }
  });
}

/** Cutover's rollback: every table's target writes since cutover go back to the source, and the fences lift, in one source transaction. */
export async function rollbackCutoverSet(ctx: Ctx, tables: Pick<SetTable, 'source' | 'target' | 'inPlace'>[]): Promise<void> {
  const name = captureNameOf(ctx);
  await onSource(ctx, async (source) => {
    const present: typeof tables = [];
    for (const t of tables) if ((await source.query('SELECT 1 FROM pg_class WHERE oid = to_regclass($1)', [qualify(t.source)])).rowCount) present.push(t);
    const r = await routes(source, present);
    const replayed = await replayReverseSet(ctx.target, source, r, name, async () => {
      for (const t of present) await unfence(source, t.source);
    });
    ctx.run.info(`${present.map((t) => tableLabel(t.source)).join(', ')}: ${replayed} write(s) made on the target since cutover replayed onto the source; fences lifted`);
  });
  for (const t of tables) await stopReverse(ctx.target, t.target, reverseLabel(name, t.source));
}

/** For `migrate status`/`watch`: lag, applied counts, and target writes pending in reverse. */
export async function captureSetLag(ctx: Ctx, tables: Pick<SetTable, 'source'>[]): Promise<Details & { bytes: number }> {
  const name = captureNameOf(ctx);
  const lag = await onSource(ctx, (source) => captureLag(source, ctx.target, name));
  let reversePending = 0;
  for (const t of tables) reversePending += await reverseCount(ctx.target, reverseLabel(name, t.source));
  return { ...lag, reversePending };
}
