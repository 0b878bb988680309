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
import { captureName } from './names';
import { reportSlot } from './print';
import { ensureProgress, forgetProgress } from './progress';
import { replayReverse, reverseCount, startReverse, stopReverse } from './reverse';
import { checkLogical, createCapture, dropCapture, listSlots, skipSlot } from './source';
import { drain, type CaptureSpec } from './stream';

/**
 * The change-capture lifecycle a cross-database plan wires into its phases:
 *   backfill  withCapture   (publication + slot before the copy's snapshot)
 *   dual-write windowSync   (apply captured changes; parity converges under live writes)
 *   cutover   cutover       (fence source writes, drain to the fence LSN, parity there, reverse capture on)
 *   cleanup   stopCapture   (slot, publication, reverse capture removed; the source stays fenced)
 * Rollback of cutover replays the target's writes onto the source and lifts the fence.
 */
export interface CaptureTables {
  source: TableName;
  target: TableName;
  /** Compare source and target tables (segment hashes); runs on its own connections. */
  compare: () => Promise<TableComparison>;
}

type Ctx = PhaseContext<unknown>;

export const captureNameOf = (ctx: Ctx): string => captureName(ctx.plan.id, ctx.scope, ctx.settings.targetUrl);

async function spec(ctx: Ctx, source: pg.ClientBase, tables: CaptureTables): Promise<CaptureSpec> {
  const info = await describeTable(source, tables.source);
  return { name: captureNameOf(ctx), target: tables.target, key: info.primaryKey };
}

const onSource = <T>(ctx: Ctx, fn: (source: pg.Client) => Promise<T>) => withClient(ctx.settings.sourceUrl, fn, '--source-url');

/** Preflight: refuse a source without logical decoding; report slots that hold WAL (ours or foreign). */
export async function preflightCapture(ctx: Ctx, table: TableName): Promise<Details> {
  return onSource(ctx, async (source) => {
    const { replicaIdentity } = await checkLogical(source, table);
    const slots = await listSlots(source);
    for (const s of slots) reportSlot(ctx.run, s, s.slot === captureNameOf(ctx), false);
    return { replicaIdentity, slotsOnSource: slots.length, slotsRetainedBytes: slots.reduce((n, s) => n + s.retainedBytes, 0) };
  });
}

/**
 * Backfill: the capture is created before the copy's snapshot, so no change
 * is missed. Its name is fixed by plan, scope and target, so rollback finds
 * it after a kill; a copy that refuses (exit 2 or 4, "nothing changed")
 * removes it again before failing.
 */
export async function withCapture<T extends object>(ctx: Ctx, tables: CaptureTables, copy: () => Promise<T>): Promise<T & { capture: string; captureStartLsn: string }> {
  const name = captureNameOf(ctx);
  const capture = await onSource(ctx, async (source) => {
    await checkLogical(source, tables.source);
    // The copy takes an inheritance parent's own rows only; so does the publication then.
    const only = (await describeTable(source, tables.source)).from.startsWith('ONLY ');
    const { startLsn } = await createCapture(source, name, tables.source, only);
    await ensureProgress(ctx.target, name, startLsn);
    return { capture: name, captureStartLsn: startLsn };
  });
  try {
    return { ...(await copy()), ...capture };
  } catch (error) {
    if ([2, 4].includes(exitCodeOf(error))) await stopCapture(ctx, tables);
    throw error;
  }
}

/** Backfill's rollback and cleanup: slot, publication, progress and reverse capture go. */
export async function stopCapture(ctx: Ctx, tables: Pick<CaptureTables, 'target'>): Promise<Details> {
  const name = captureNameOf(ctx);
  const dropped = await onSource(ctx, (source) => dropCapture(source, name));
  await stopReverse(ctx.target, tables.target, name);
  await forgetProgress(ctx.target, name);
  return dropped;
}

/** Apply every change captured so far (forward, before cutover; reverse, after it). */
async function sync(ctx: Ctx, tables: CaptureTables, source: pg.Client): Promise<Details> {
  const s = await spec(ctx, source, tables);
  if (ctx.recorded('cutover').equalAtLsn) {
    const replayed = await replayReverse(ctx.target, source, tables.source, s.key, s.name);
    // The source's only writes now are these replays, already on the target: skip them in the slot.
    await skipSlot(source, s.name);
    return { replayedToSource: replayed };
  }
  const drained = await drain(source, ctx.target, s, { onBatch: (a) => ctx.progress(a.transactions, a.transactions, 'transactions'), checkpoint: ctx.checkpoint });
  return { appliedUpTo: drained.upto, applied: drained.applied };
}

/**
 * Parity with writes held back: SHARE lock on the table that takes writes
 * (the source before cutover, the target after it; reads go on), catch up
 * to that point, compare, release. Reports how long writes waited.
 */
async function quiescedParity(ctx: Ctx, tables: CaptureTables, source: pg.Client): Promise<Details> {
  const reverse = Boolean(ctx.recorded('cutover').equalAtLsn);
  const url = reverse ? ctx.settings.targetUrl : ctx.settings.sourceUrl;
  return withClient(url, async (locker) => {
    const started = Date.now();
    return inTransaction(locker, async () => {
      await locker.query(`LOCK TABLE ${qualify(reverse ? tables.target : tables.source)} IN SHARE MODE`);
      const s = await spec(ctx, source, tables);
      const upto = reverse ? undefined : (await locker.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
      const synced = reverse ? { replayedToSource: await replayReverse(ctx.target, source, tables.source, s.key, s.name) } : { applied: (await drain(source, ctx.target, s, { ...(upto ? { upto } : {}) })).applied };
      const result = await tables.compare();
      if (!result.equal) throw new VerificationError(`${tableLabel(tables.source)} differs with writes held back: ${result.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ')}`, { differences: result.differences.slice(0, 100) });
      return { rows: result.sourceRows, quiesced: true, writesHeldMs: Date.now() - started, ...synced };
    });
  }, reverse ? '--target-url' : '--source-url');
}

/** Parity at any time: after catching up, converged under live writes (see convergedParity). */
export async function captureParity(ctx: Ctx, tables: CaptureTables): Promise<Details> {
  return onSource(ctx, (source) => convergedParity(() => sync(ctx, tables, source), tables.compare, () => quiescedParity(ctx, tables, source)));
}

/** Dual-write: apply what was captured since the backfill began; parity converges; lag is recorded. */
export async function windowSync(ctx: Ctx, tables: CaptureTables): Promise<Details> {
  const parity = await captureParity(ctx, tables);
  const lag = await onSource(ctx, (source) => captureLag(source, ctx.target, captureNameOf(ctx)));
  return { ...parity, lagBytes: lag.bytes, lagSeconds: lag.seconds, windowStartedAt: new Date().toISOString() };
}

/**
 * Cutover: fence the source table (waits for writers in flight, refuses new
 * ones), drain to the fence's LSN, prove parity there (nothing moves on
 * either side), then turn reverse capture on so the target can take writes.
 * A re-run after reverse capture was on (killed before the phase's end)
 * first replays the target's writes onto the source, and never lifts the
 * fence: the target may already take writes, and only one side may.
 * A first attempt that fails lifts the fence again. The write pause is
 * fence → reverse on.
 */
export async function cutover(ctx: Ctx, tables: CaptureTables): Promise<Details> {
  return onSource(ctx, async (source) => {
    const s = await spec(ctx, source, tables);
    const resumed = Boolean(ctx.recorded('cutover').equalAtLsn);
    const started = Date.now();
    await inTransaction(source, async () => {
      await source.query(`LOCK TABLE ${qualify(tables.source)} IN EXCLUSIVE MODE`);
      await fence(source, tables.source);
    });
    const fencedAt = Date.now();
    ctx.checkpoint('fenced');
    try {
      let replayed = 0;
      if (resumed) {
        replayed = await replayReverse(ctx.target, source, tables.source, s.key, s.name);
        await skipSlot(source, s.name);
      }
      const fenceLsn = (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
      const drained = await drain(source, ctx.target, s, { upto: fenceLsn, checkpoint: ctx.checkpoint });
      const result = await tables.compare();
      if (!result.equal) throw new VerificationError(`${tableLabel(tables.source)} differs at the fence (LSN ${fenceLsn}): ${result.differences.slice(0, 10).map((d) => `${d.key} (${d.kind})`).join(', ')}`, { differences: result.differences.slice(0, 100) });
      await ctx.note({ equalAtLsn: fenceLsn, rowsAtFence: result.sourceRows });
      await startReverse(ctx.target, tables.target, s.name);
      const writePauseMs = Date.now() - fencedAt;
      ctx.run.info(`${tableLabel(tables.source)}: equal at LSN ${fenceLsn} (${result.sourceRows} rows); source writes fenced, target takes writes; write pause ${writePauseMs} ms`);
      return { equalAtLsn: fenceLsn, rows: result.sourceRows, drained: drained.applied, fenceMs: fencedAt - started, writePauseMs, reverseCapture: true, ...(resumed ? { resumed: true, replayedToSource: replayed } : {}) };
    } catch (error) {
      if (!resumed) await unfence(source, tables.source);
      throw error;
    }
  });
}

/** Cutover's rollback: the target's writes since cutover go back to the source, then the fence lifts (one source transaction). */
export async function rollbackCutover(ctx: Ctx, tables: Omit<CaptureTables, 'compare'>): Promise<void> {
  await onSource(ctx, async (source) => {
    if (!(await source.query('SELECT 1 FROM pg_class WHERE oid = to_regclass($1)', [qualify(tables.source)])).rowCount) return;
    const key = (await describeTable(source, tables.source)).primaryKey;
    const replayed = await replayReverse(ctx.target, source, tables.source, key, captureNameOf(ctx), () => unfence(source, tables.source));
    ctx.run.info(`${tableLabel(tables.source)}: ${replayed} write(s) made on the target since cutover replayed onto the source; fence lifted`);
  });
  await stopReverse(ctx.target, tables.target, captureNameOf(ctx));
}

/** For `migrate status`/`watch`: lag and what is pending in reverse. */
export async function captureLagOf(ctx: Ctx): Promise<Details> {
  const name = captureNameOf(ctx);
  const lag = await onSource(ctx, (source) => captureLag(source, ctx.target, name));
  return { ...lag, reversePending: await reverseCount(ctx.target, name) };
}
