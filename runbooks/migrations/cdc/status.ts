import { withClient } from '../../stores/postgres/connect';
import { captureLag, type Lag } from './lag';
import { captureName } from './names';
import { listSlots, type SlotReport } from './source';

/**
 * `migrate status` for a cross-database plan: this run's capture lag (null
 * when it has none), and every replication slot on the source with the WAL
 * it holds (a forgotten slot fills the disk).
 */
export async function captureStatus(plan: string, scope: string, sourceUrl: string, targetUrl: string): Promise<{ lag: Lag | null; slots: SlotReport[] }> {
  const name = captureName(plan, scope, targetUrl);
  return withClient(sourceUrl, (source) =>
    withClient(targetUrl, async (target) => {
      const lag = await captureLag(source, target, name);
      return { lag: lag.slotPresent || lag.applied ? lag : null, slots: await listSlots(source) };
    }, '--target-url'),
  '--source-url');
}
