import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RefusedError, VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import type { Run } from '../../engine/run';
import type { Manifest } from '../../repository/manifest';
import type { Repository } from '../../repository/repository';
import { downloadVerified, stagingDir } from '../../repository/transfer';
import { qdrantClient, qdrantFetch, qdrantVersion, snapshotCompatible, type QdrantTarget } from './client';

export interface SnapshotRestoreOptions {
  repo: Repository;
  manifest: Manifest;
  target: QdrantTarget;
  inPlace: boolean;
}

/**
 * Upload each collection snapshot with priority=snapshot (the snapshot's
 * data wins over anything on the server) and the checksum, then compare
 * exact point counts with the backup.
 */
export async function snapshotRestore(run: Run, opts: SnapshotRestoreOptions): Promise<{ collections: number; points: number; targetUrl: string }> {
  const { manifest } = opts;
  const client = qdrantClient(opts.target);
  const expected = manifest.details.collections as Record<string, number>;
  await run.step('check Qdrant version compatibility', async (step) => {
    const version = await qdrantVersion(opts.target, 'target Qdrant');
    step.record({ backup: manifest.server.version, target: version });
    if (!snapshotCompatible(manifest.server.version, version)) throw new ConfigError(`Qdrant ${version} cannot take snapshots from ${manifest.server.version} (same version or the next minor only)`);
    if (!opts.inPlace) {
      const existing = (await client.getCollections()).collections.map((c) => c.name).filter((name) => name in expected);
      if (existing.length) throw new RefusedError(`the target already has collection(s) ${existing.join(', ')}; nothing was changed`, { hint: 'use --in-place to replace them' });
    }
  }, { readOnly: true });

  const staging = stagingDir(path.join(stateRoot(), 'tmp'), manifest.id);
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));
  await run.step('download and check sha256 of every snapshot', () => downloadVerified(opts.repo, manifest, staging), { readOnly: true });

  let points = 0;
  for (const file of manifest.files) {
    const collection = path.basename(file.path, '.snapshot');
    await run.step(`restore ${collection}`, async (step) => {
      const form = new FormData();
      form.append('snapshot', await fs.openAsBlob(path.join(staging, file.path)), `${collection}.snapshot`);
      const response = await qdrantFetch(opts.target, `collections/${encodeURIComponent(collection)}/snapshots/upload?priority=snapshot&wait=true&checksum=${file.sha256}`, { method: 'POST', body: form });
      if (!response.ok) throw new Error(`upload of ${collection} failed: HTTP ${response.status} ${await response.text()}`);
      const count = (await client.count(collection, { exact: true })).count;
      if (count !== expected[collection]) throw new VerificationError(`${collection}: ${count} points after restore, the backup had ${expected[collection]}`);
      points += count;
      step.note(`${count} points`);
    }, opts.inPlace ? { confirm: { action: `replace collection ${collection}`, target: collection } } : {});
  }
  return { collections: manifest.files.length, points, targetUrl: opts.target.url };
}
