import { z } from 'zod';
import { LockHeldError } from '../engine/errors';
import { acquireFileLock } from '../engine/lock';
import { thisProcess } from '../engine/owner';
import type { Run } from '../engine/run';
import { backupLockKey, backupPrefix, LEASE_FILE, newBackupId, type Store } from './manifest';
import { getText, putText, type Repository } from './repository';

/**
 * A backup being written has no manifest yet, so prune would take its folder
 * for the leftover of a killed run. The writer therefore holds the backup's
 * lock (excludes prune on this host) and keeps a lease file in the folder,
 * renewed while it runs (excludes prune on any host sharing the repository).
 * A folder whose lease expired was left by a dead writer.
 */
const leaseMs = (): number => Number(process.env.TICKVAULT_LOCK_LEASE_MS ?? 300_000);

const leaseSchema = z.object({ run: z.string(), pid: z.number(), host: z.string(), leaseUntil: z.string() });
export type WritingLease = z.infer<typeof leaseSchema>;

export const leaseKey = (env: string, store: Store, id: string): string => `${backupPrefix(env, store, id)}/${LEASE_FILE}`;

/** A new backup id whose folder is leased to this run until it ends (cleanup releases it). */
export async function startBackup(run: Run, repo: Repository, env: string, store: Store, kind: string, startedAt: Date): Promise<string> {
  const id = newBackupId(store, kind, startedAt);
  if (run.dryRun) return id;
  const lock = await acquireFileLock('backup', backupLockKey(repo.url, env, id), run.id);
  const key = leaseKey(env, store, id);
  const renew = () => putText(repo, key, JSON.stringify({ run: run.id, ...thisProcess(), leaseUntil: new Date(Date.now() + leaseMs()).toISOString() } satisfies WritingLease));
  await renew();
  const timer = setInterval(() => void renew().catch((error: Error) => run.warn(`backup lease not renewed: ${error.message}`)), Math.max(1000, leaseMs() / 3));
  timer.unref();
  run.onCleanup(async () => {
    clearInterval(timer);
    await repo.remove([key]).catch(() => undefined);
    await lock.release();
  });
  return id;
}

/** The lease of a manifest-less folder, if it has a readable one. */
export async function readLease(repo: Repository, keys: string[]): Promise<WritingLease | undefined> {
  const key = keys.find((k) => k.endsWith(`/${LEASE_FILE}`));
  if (!key) return undefined;
  try {
    return leaseSchema.parse(JSON.parse(await getText(repo, key)));
  } catch {
    return undefined; // half-written or damaged: judged by age alone
  }
}

/** Why a manifest-less folder must stay, or undefined when its writer is gone. */
export async function stillWriting(repo: Repository, env: string, id: string, keys: string[], runId: string, now = new Date()): Promise<string | undefined> {
  const lease = await readLease(repo, keys);
  if (lease && Date.parse(lease.leaseUntil) > now.getTime()) return `run ${lease.run} (pid ${lease.pid} on ${lease.host}) holds its lease until ${lease.leaseUntil}`;
  try {
    const probe = await acquireFileLock('prune', backupLockKey(repo.url, env, id), runId);
    await probe.release();
  } catch (error) {
    if (error instanceof LockHeldError) return error.message;
    throw error;
  }
  return undefined;
}
