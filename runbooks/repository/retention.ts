import { isVerified, type BackupEntry } from './manifest';

export interface PrunePlan {
  delete: { id: string; store: string; kind: string; finishedAt: string; reason: string }[];
  keep: { id: string; reason: string }[];
}

const groupKey = (entry: BackupEntry): string => `${entry.manifest.store}/${entry.manifest.kind}`;

/**
 * Rolling retention that can never lose the last restorable backup: per
 * store and kind, a backup older than the window goes only if a newer
 * *verified* backup covers it (a backup that merely has a manifest may be
 * truncated). The newest verified backup stays whatever its age, and
 * without one nothing in the group is deleted.
 */
export function planPrune(entries: BackupEntry[], now: Date, retentionDays: number): PrunePlan {
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  const plan: PrunePlan = { delete: [], keep: [] };
  const groups = new Map<string, BackupEntry[]>();
  for (const entry of entries) groups.set(groupKey(entry), [...(groups.get(groupKey(entry)) ?? []), entry]);
  for (const group of groups.values()) {
    const sorted = [...group].sort((a, b) => a.manifest.finishedAt.localeCompare(b.manifest.finishedAt));
    const newestVerified = sorted.filter(isVerified).at(-1);
    for (const entry of sorted) {
      const m = entry.manifest;
      const finished = Date.parse(m.finishedAt);
      if (entry === newestVerified) {
        plan.keep.push({ id: m.id, reason: 'newest verified backup' });
      } else if (finished >= cutoff) {
        plan.keep.push({ id: m.id, reason: `within ${retentionDays} days` });
      } else if (newestVerified && Date.parse(newestVerified.manifest.finishedAt) > finished) {
        plan.delete.push({ id: m.id, store: m.store, kind: m.kind, finishedAt: m.finishedAt, reason: `older than ${retentionDays} days; covered by verified ${newestVerified.manifest.id}` });
      } else {
        plan.keep.push({ id: m.id, reason: 'no newer verified backup covers it' });
      }
    }
  }
  return plan;
}

/**
 * The unverified backups worth re-verifying before planning: per group,
 * those newer than the newest verified one (newest first), but only in
 * groups where something is past the window (else verifying buys nothing).
 */
export function verificationCandidates(entries: BackupEntry[], now: Date, retentionDays: number): BackupEntry[] {
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  const groups = new Map<string, BackupEntry[]>();
  for (const entry of entries) groups.set(groupKey(entry), [...(groups.get(groupKey(entry)) ?? []), entry]);
  const out: BackupEntry[] = [];
  for (const group of groups.values()) {
    const sorted = [...group].sort((a, b) => a.manifest.finishedAt.localeCompare(b.manifest.finishedAt));
    if (!sorted.some((e) => Date.parse(e.manifest.finishedAt) < cutoff)) continue;
    const verifiedAt = sorted.findLastIndex(isVerified);
    out.push(...sorted.slice(verifiedAt + 1).filter((e) => e.verification === undefined).reverse());
  }
  return out;
}
