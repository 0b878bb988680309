import { sourceKey } from './backup-source';
import { isGood, type BackupEntry } from './manifest';

export interface PrunePlan {
  delete: { id: string; store: string; kind: string; finishedAt: string; reason: string }[];
  keep: { id: string; reason: string }[];
}

/**
 * Rolling retention that can never lose the last good backup: per store,
 * kind and source (database or cluster), a backup older than the window goes only if a newer good backup
 * covers it. The newest good backup stays whatever its age.
 */
export function planPrune(entries: BackupEntry[], now: Date, retentionDays: number): PrunePlan {
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  const plan: PrunePlan = { delete: [], keep: [] };
  const groups = new Map<string, BackupEntry[]>();
  for (const entry of entries) {
    // One database's backups never cover another's: group by source too.
    const key = `${entry.manifest.store}/${entry.manifest.kind}/${sourceKey(entry.manifest)}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  for (const group of groups.values()) {
    const sorted = [...group].sort((a, b) => a.manifest.finishedAt.localeCompare(b.manifest.finishedAt));
    const newestGood = sorted.filter(isGood).at(-1);
    for (const entry of sorted) {
      const m = entry.manifest;
      const finished = Date.parse(m.finishedAt);
      if (entry === newestGood) {
        plan.keep.push({ id: m.id, reason: 'newest good backup' });
      } else if (finished >= cutoff) {
        plan.keep.push({ id: m.id, reason: `within ${retentionDays} days` });
      } else if (newestGood && Date.parse(newestGood.manifest.finishedAt) > finished) {
        plan.delete.push({ id: m.id, store: m.store, kind: m.kind, finishedAt: m.finishedAt, reason: `older than ${retentionDays} days; covered by ${newestGood.manifest.id}` });
      } else {
        plan.keep.push({ id: m.id, reason: 'no newer good backup covers it' });
      }
    }
  }
  return plan;
}
