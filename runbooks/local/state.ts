import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
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
  const tmp = `${stateFile()}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, stateFile());
}

/** Register a cluster started outside `up` (a restore target) for `down`. */
export function registerExtraCluster(cluster: ClusterRecord): void {
  const state = readState();
  if (!state) return;
  state.extraClusters = [...state.extraClusters.filter((c) => c.dataDir !== cluster.dataDir), cluster];
  writeState(state);
}

export function registerExtraRedis(server: { name: string; dir: string; port: number }): void {
  const state = readState();
  if (!state) return;
  state.extraRedis = [...state.extraRedis.filter((r) => r.dir !== server.dir), server];
  writeState(state);
}

export const newSecret = (): string => crypto.randomBytes(18).toString('base64url');
