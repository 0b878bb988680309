import { withClient } from '../../stores/postgres/connect';
import { captureLag, type Lag } from './lag';
import { captureName } from './names';
import type { SlotStatus } from './print';
import { listSlots } from './source';

/**
 * `migrate status` for a cross-database plan: this run's capture lag (null
 * when it has none), and every replication slot on the source with the WAL
 * it holds (a forgotten slot fills the disk), marked when it is this run's.
 */
export async function captureStatus(plan: string, scope: string, sourceUrl: string, targetUrl: string): Promise<{ lag: Lag | null; slots: SlotStatus[] }> {
  const name = captureName(plan, scope, targetUrl);
  return withClient(sourceUrl, (source) =>
    withClient(targetUrl, async (target) => {
      const lag = await captureLag(source, target, name);
      const slots = (await listSlots(source)).map((s) => ({ ...s, thisCapture: s.slot === name }));
      return { lag: lag.slotPresent || lag.applied ? lag : null, slots };
    }, '--target-url'),
  '--source-url');
}
