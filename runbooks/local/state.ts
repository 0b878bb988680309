import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withKernelLock } from '../engine/lock';
import { localDir } from '../engine/paths';

const clusterSchema = z.object({
  name: z.string(),
  dataDir: z.string(),
  port: z.number(),
  socketDir: z.string(),
  logFile: z.string(),
});

/** Everything `up` started or created, so `down` stops exactly that. */
export const stackStateSchema = z.object({
  version: z.literal(1),
  serviceUser: z.string(),
  postgres: clusterSchema.extend({ superuser: z.string(), password: z.string(), database: z.string() }),
  redis: z.object({ dir: z.string(), port: z.number(), password: z.string() }),
  s3: z.object({ dir: z.string(), port: z.number(), pid: z.number().optional(), bucket: z.string() }),
  pgbackrest: z.object({ configFile: z.string(), repoPath: z.string(), stanza: z.string() }),
  /** Clusters started by restores; `down` stops them too. */
  extraClusters: z.array(clusterSchema).default([]),
  /** Redis servers started by restores; `down` stops them too. */
  extraRedis: z.array(z.object({ name: z.string(), dir: z.string(), port: z.number() })).default([]),
});

export type StackState = z.infer<typeof stackStateSchema>;
export type ClusterRecord = z.infer<typeof clusterSchema>;

export const stateFile = (): string => path.join(localDir(), 'state.json');

export function readState(): StackState | undefined {
  try {
    return stackStateSchema.parse(JSON.parse(fs.readFileSync(stateFile(), 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`the local stack state ${stateFile()} is unreadable: ${(error as Error).message}`);
  }
}

export function writeState(state: StackState): void {
  fs.mkdirSync(localDir(), { recursive: true });
  // A private temporary name: two writers never interleave bytes in one file.
  const tmp = `${stateFile()}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, stateFile());
}

/**
 * Read, change and write the state under one machine-wide lock, so two
 * restores registering servers at once both stay registered for `down`.
 * Nothing is written when there is no stack.
 */
export async function updateState(change: (state: StackState) => void): Promise<void> {
  await withKernelLock(`local-state\0${stateFile()}`, async () => {
    const state = readState();
    if (!state) return;
    change(state);
    writeState(state);
  });
}

/**
 * `up` saves the stack it started: under the same lock, keeping the servers
 * restores registered meanwhile.
 */
export async function saveStack(state: StackState): Promise<void> {
  await withKernelLock(`local-state\0${stateFile()}`, async () => {
    const onDisk = readState();
    const clusters = onDisk?.extraClusters.filter((c) => !state.extraClusters.some((k) => k.dataDir === c.dataDir)) ?? [];
    const redis = onDisk?.extraRedis.filter((r) => !state.extraRedis.some((k) => k.dir === r.dir)) ?? [];
    writeState({ ...state, extraClusters: [...state.extraClusters, ...clusters], extraRedis: [...state.extraRedis, ...redis] });
  });
}

/** Register a cluster started outside `up` (a restore target) for `down`. */
export const registerExtraCluster = (cluster: ClusterRecord): Promise<void> =>
  updateState((state) => {
    state.extraClusters = [...state.extraClusters.filter((c) => c.dataDir !== cluster.dataDir), cluster];
  });

export const registerExtraRedis = (server: { name: string; dir: string; port: number }): Promise<void> =>
  updateState((state) => {
    state.extraRedis = [...state.extraRedis.filter((r) => r.dir !== server.dir), server];
  });

export const newSecret = (): string => crypto.randomBytes(18).toString('base64url');
