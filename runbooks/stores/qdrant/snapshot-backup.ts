import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { VerificationError } from '../../engine/errors';
import type { Run } from '../../engine/run';
import { backupPrefix, writeManifest, type Manifest, type ManifestFile } from '../../repository/manifest';
import { startBackup } from '../../repository/writing-lease';
import type { Repository } from '../../repository/repository';
import { qdrantClient, qdrantFetch, qdrantVersion, type QdrantTarget } from './client';

export interface SnapshotBackupOptions {
  qdrant: QdrantTarget;
  repo: Repository;
  env: string;
  collections?: string[];
}

/**
 * Per-collection snapshots through the official client: create, stream the
 * download into the repository checking Qdrant's sha256, then delete the
 * copy on the server so snapshots do not pile up on its disk.
 */
export async function snapshotBackup(run: Run, opts: SnapshotBackupOptions): Promise<Manifest> {
  const startedAt = new Date();
  const id = await startBackup(run, opts.repo, opts.env, 'qdrant', 'snapshot', startedAt);
  const client = qdrantClient(opts.qdrant);
  const version = await run.step('connect', () => qdrantVersion(opts.qdrant), { readOnly: true });
  const collections = opts.collections ?? (await client.getCollections()).collections.map((c) => c.name).sort();
  const files: ManifestFile[] = [];
  const points: Record<string, number> = {};

  const createdAt: number[] = [];
  for (const collection of collections) {
    await run.step(`snapshot ${collection}`, async (step) => {
      points[collection] = (await client.count(collection, { exact: true })).count;
      const snapshot = await client.createSnapshot(collection, { wait: true });
      if (!snapshot) throw new Error(`Qdrant returned no snapshot for ${collection}`);
      // Qdrant gives UTC without a zone; the oldest collection snapshot is the backup's recovery point.
      const created = snapshot.creation_time ? Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(snapshot.creation_time) ? snapshot.creation_time : `${snapshot.creation_time}Z`) : NaN;
      if (!Number.isNaN(created)) createdAt.push(created);
      try {
        const response = await qdrantFetch(opts.qdrant, `collections/${encodeURIComponent(collection)}/snapshots/${encodeURIComponent(snapshot.name)}`);
        if (!response.ok || !response.body) throw new Error(`download of ${snapshot.name} failed: HTTP ${response.status}`);
        const key = `${backupPrefix(opts.env, 'qdrant', id)}/collections/${collection}.snapshot`;
        const stored = await opts.repo.put(key, Readable.fromWeb(response.body as WebReadableStream));
        if (snapshot.checksum && snapshot.checksum !== stored.sha256) throw new VerificationError(`${collection}: downloaded snapshot sha256 differs from Qdrant's checksum`);
        files.push({ path: `collections/${collection}.snapshot`, size: stored.size, sha256: stored.sha256 });
        step.note(`${points[collection]} points, ${(stored.size / 1048576).toFixed(1)} MiB`);
      } finally {
        await client.deleteSnapshot(collection, snapshot.name).catch((error: Error) => run.warn(`could not delete server snapshot ${snapshot.name}: ${error.message}`));
      }
    });
  }
  if (run.dryRun) return undefined as unknown as Manifest;

  const manifest: Manifest = {
    formatVersion: 1,
    id,
    env: opts.env,
    store: 'qdrant',
    kind: 'snapshot',
    tool: { name: '@qdrant/js-client-rest', version: 'collection snapshots' },
    server: { version, extensions: {} },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    dataUpTo: startedAt.toISOString(),
    recoveryPoint: new Date(createdAt.length === collections.length && createdAt.length ? Math.min(...createdAt) : startedAt.getTime()).toISOString(),
    files,
    tables: [],
    details: { collections: points },
    checks: ["sha256 equals Qdrant's snapshot checksum", 'server snapshot deleted after download'],
  };
  await run.step('write manifest', () => writeManifest(opts.repo, manifest));
  return manifest;
}
