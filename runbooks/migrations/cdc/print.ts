import { formatBytes } from '../../engine/format';
import type { Lag } from './lag';
import type { SlotReport } from './source';

export interface SlotStatus extends SlotReport {
  /** The capture of the migration asked about (expected while it runs); every other slot is left over or another's. */
  thisCapture: boolean;
}

type Out = { info(message: string, fields?: Record<string, unknown>): void; warn(message: string, fields?: Record<string, unknown>): void };

/** One line per slot: whose it is and the WAL it keeps on the source's disk. */
export function describeSlot(s: SlotReport, thisCapture = false): string {
  const owner = thisCapture ? "this migration's capture" : s.tickvault ? 'tickvault, another migration (in progress elsewhere, or left behind)' : 'not tickvault';
  return `replication slot ${s.slot} (${owner}, ${s.active ? 'active' : 'inactive'}, database ${s.database ?? '-'}) holds ${formatBytes(s.retainedBytes)} of WAL (${s.retainedBytes} bytes)`;
}

/**
 * A slot that is not this migration's own holds WAL nobody here will
 * release: a warning, with the command that drops it. This migration's own
 * slot is information while it runs (`status`), a warning before it began (preflight).
 */
export function reportSlot(out: Out, s: SlotReport, thisCapture = false, ownIsExpected = true): void {
  const fields = { slot: s.slot, retainedBytes: s.retainedBytes, tickvault: s.tickvault, thisCapture, active: s.active };
  if (thisCapture && ownIsExpected) out.info(describeSlot(s, true), fields);
  else if (thisCapture) out.warn(`${describeSlot(s, true)}, left from an earlier run: backfill resumes from it, or roll back to remove it`, fields);
  else out.warn(`${describeSlot(s)}; if nothing uses it: SELECT pg_drop_replication_slot('${s.slot.replace(/'/g, "''")}')`, fields);
}

export function describeLag(lag: Lag): string {
  const a = lag.applied;
  const pending = lag.pendingChanges === null ? 'slot busy (a catch-up is reading it)' : `${lag.pendingChanges}${lag.pendingCapped ? '+' : ''} change(s) pending`;
  const applied = a ? `${a.transactions} transactions (${a.inserts} inserts, ${a.updates} updates, ${a.deletes} deletes, ${a.truncates} truncates)` : 'nothing yet';
  return `change capture ${lag.capture}: lag ${formatBytes(lag.bytes)} (${lag.bytes} bytes), ${lag.seconds ?? '?'} s, ${pending}; applied ${applied}${lag.slotPresent ? '' : '; slot removed'}`;
}

/** Human lines for `migrate status`: lag of this run's capture, then every slot holding WAL. */
export function printCapture(out: Out, capture: { lag: Lag | null; slots: SlotStatus[] }): void {
  if (capture.lag) out.info(describeLag(capture.lag), {});
  for (const s of capture.slots) reportSlot(out, s, s.thisCapture);
}
