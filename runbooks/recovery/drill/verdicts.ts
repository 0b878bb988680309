import { formatMs } from '../../engine/format';
import type { ScenarioResult } from './types';

const EXIT_MEANING: Record<number, string> = {
  0: 'succeeded',
  1: 'failed while running',
  2: 'refused its input or configuration (nothing was changed)',
  3: 'found its verification failed or an RTO/RPO target missed',
  4: 'was refused (confirmation, safety window or lock)',
};

/** How much of a target an actual figure used: the colour band of the report. */
export type Band = 'good' | 'tight' | 'missed' | 'unknown';

export function band(actual: number | null | undefined, target: number | undefined): Band {
  if (actual == null || !target) return 'unknown';
  const used = actual / target;
  return used > 1 ? 'missed' : used > 0.5 ? 'tight' : 'good';
}

/** "12.0 s left (99.7%)" or "3.1 s over". */
export function margin(actual: number | null | undefined, target: number | undefined): string {
  if (actual == null || !target) return 'n/a';
  const left = target - actual;
  return left >= 0 ? `${formatMs(left)} left (${((left / target) * 100).toFixed(1)}%)` : `${formatMs(-left)} over`;
}

/** Why a scenario failed, in plain words: the restore's real exit and reason, then the drill's own failed checks. */
export function failureCauses(s: ScenarioResult): string[] {
  if (s.passed) return [];
  const causes: string[] = [];
  if (s.error) causes.push(`the scenario could not run: ${s.error}`);
  if (s.restore && s.restore.exitCode !== 0) {
    const code = s.restore.exitCode;
    const reason = s.restore.summary.error?.message as string | undefined;
    causes.push(`the restore runbook exited ${code}: it ${EXIT_MEANING[code] ?? 'failed'}${reason ? ` — ${reason}` : ''}`);
  }
  for (const c of s.checks.filter((check) => !check.ok)) causes.push(`check failed: ${c.check}${c.detail ? ` (${c.detail})` : ''}`);
  if (!causes.length) causes.push('no check passed or failed: the scenario recorded nothing');
  return causes;
}
