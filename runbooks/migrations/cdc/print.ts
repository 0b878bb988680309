import type { Run } from '../../engine/run';
import type { Lag } from './lag';
import type { SlotReport } from './source';

/** Human lines for `migrate status`: lag of this run's capture, then every slot holding WAL. */
export function printCapture(run: Run, capture: { lag: Lag | null; slots: SlotReport[] }): void {
  const { lag, slots } = capture;
  if (lag) {
    const a = lag.applied;
    run.info(`change capture ${lag.capture}: lag ${lag.bytes} bytes, ${lag.seconds} s; applied ${a ? `${a.transactions} transactions (${a.inserts} inserts, ${a.updates} updates, ${a.deletes} deletes, ${a.truncates} truncates)` : 'nothing yet'}${lag.slotPresent ? '' : '; slot removed'}`);
  }
  for (const s of slots) run.warn(`replication slot ${s.slot} (${s.tickvault ? 'tickvault' : 'not tickvault'}, ${s.active ? 'active' : 'inactive'}, database ${s.database ?? '-'}) holds ${s.retainedBytes} bytes of WAL`, { slot: s.slot, retainedBytes: s.retainedBytes });
}
