/**
 * Backup freshness, published after every backup/verify/prune run: the age
 * in hours of the newest good backup of each store. Prod's BackupAlarms
 * alarm beyond 26 h (and when nothing is published for a day).
 *   TICKVAULT_METRICS=cloudwatch:<namespace>   CloudWatch PutMetricData (prod)
 *   TICKVAULT_METRICS=file:///path/metrics.jsonl   one JSON line per store (dev, tests)
 * Unset: nothing is published.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Settings } from '../engine/config';
import { ConfigError } from '../engine/errors';
import type { Run } from '../engine/run';
import { isGood, listBackups, STORES, type Store } from '../repository/manifest';
import type { RecoveryContext } from './context';

export const FRESHNESS_METRIC = 'NewestGoodBackupAgeHours';

export interface Freshness {
  store: Store;
  ageHours: number;
  backupId: string;
}

/** The newest good backup per store, aged against `now`; stores without one are absent (the alarm treats that as breaching). */
export async function measureFreshness(ctx: RecoveryContext, now = new Date()): Promise<Freshness[]> {
  const entries = (await listBackups(ctx.repo, ctx.env)).filter(isGood);
  const out: Freshness[] = [];
  for (const store of STORES) {
    const newest = entries.filter((e) => e.manifest.store === store).at(-1);
    if (newest) out.push({ store, backupId: newest.manifest.id, ageHours: Math.max(0, (now.getTime() - Date.parse(newest.manifest.finishedAt)) / 3_600_000) });
  }
  return out;
}

/** Parse TICKVAULT_METRICS; a bad value is a config error before anything runs. */
export function metricsTarget(settings: Settings): { kind: 'cloudwatch'; namespace: string } | { kind: 'file'; path: string } | undefined {
  const value = settings.get('TICKVAULT_METRICS');
  if (value === undefined || value === '') return undefined;
  if (value.startsWith('cloudwatch:') && value.length > 'cloudwatch:'.length) return { kind: 'cloudwatch', namespace: value.slice('cloudwatch:'.length) };
  if (value.startsWith('file://')) return { kind: 'file', path: fileURLToPath(value) };
  throw new ConfigError(`TICKVAULT_METRICS: must be cloudwatch:<namespace> or file:///path, not "${value}"`);
}

/** Measure and publish; a publishing failure is a warning (the backup itself stands). */
export async function publishFreshness(run: Run, settings: Settings, ctx: RecoveryContext): Promise<void> {
  const target = metricsTarget(settings);
  if (!target) return;
  try {
    const measured = await measureFreshness(ctx);
    if (target.kind === 'file') {
      const ts = new Date().toISOString();
      fs.appendFileSync(target.path, measured.map((m) => JSON.stringify({ ts, metric: FRESHNESS_METRIC, env: ctx.env, ...m }) + '\n').join(''));
    } else if (measured.length > 0) {
      const { CloudWatchClient, PutMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
      const region = settings.get('AWS_REGION');
      const client = new CloudWatchClient(region ? { region } : {});
      await client.send(new PutMetricDataCommand({
        Namespace: target.namespace,
        MetricData: measured.map((m) => ({ MetricName: FRESHNESS_METRIC, Dimensions: [{ Name: 'Env', Value: ctx.env }, { Name: 'Store', Value: m.store }], Value: m.ageHours, Unit: 'None' })),
      }));
    }
    run.report({ freshness: measured });
  } catch (error) {
    run.warn(`backup freshness not published: ${(error as Error).message}`);
  }
}
