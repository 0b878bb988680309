import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCollection, startQdrantDouble, type QdrantDouble } from '../doubles/qdrant-http-double';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

// Qdrant cannot be installed here: these tests run the real runbooks (and the
// official client) against the labelled HTTP double in test/doubles/.
let source: QdrantDouble;
let target: QdrantDouble;
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
let env: Record<string, string>;

beforeAll(async () => {
  source = await startQdrantDouble('1.12.4');
  target = await startQdrantDouble('1.13.0');
  addCollection(source, 'trades', 843);
  addCollection(source, 'playbooks', 12);
  env = stackEnv({ BACKUP_REPO: `file://${repoDir}`, QDRANT_URL: source.url });
});
afterAll(async () => {
  await source.close();
  await target.close();
});

describe('Qdrant snapshot backup and restore (against the HTTP double)', () => {
  let backupId: string;

  it('snapshots every collection, checks the checksum, deletes the server copy', async () => {
    const backup = await runRunbook('backup', ['qdrant', '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    backupId = backup.summary!.id as string;
    expect([...source.snapshots.values()].every((m) => m.size === 0)).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(repoDir, env.TICKVAULT_ENV!, 'qdrant', backupId, 'manifest.json'), 'utf8'));
    expect(manifest.details.collections).toEqual({ playbooks: 12, trades: 843 });
  });

  it('restores into another Qdrant with priority=snapshot and the checksum; points match', async () => {
    const restore = await runRunbook('restore', ['qdrant', '--backup', backupId, '--target-url', target.url, '--json'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary).toMatchObject({ collections: 2, points: 855, recoveryPoint: { basis: 'snapshot creation time' } });
    expect(target.uploads.every((u) => u.priority === 'snapshot' && /^[0-9a-f]{64}$/.test(u.checksum ?? ''))).toBe(true);
    expect(target.collections.get('trades')?.points).toHaveLength(843);
  });

  it('refuses a target that already has the collections unless --in-place', async () => {
    const again = await runRunbook('restore', ['qdrant', '--backup', backupId, '--target-url', target.url, '--json'], { env });
    expect(again.code).toBe(4);
  });

  it('refuses an incompatible server version (exit 2) and a tampered snapshot (exit 3)', async () => {
    const old = await startQdrantDouble('1.10.0');
    try {
      const restore = await runRunbook('restore', ['qdrant', '--backup', backupId, '--target-url', old.url, '--json'], { env });
      expect(restore.code).toBe(2);
      expect(old.uploads).toHaveLength(0);
    } finally {
      await old.close();
    }
    const fresh = await startQdrantDouble('1.12.4');
    const file = path.join(repoDir, env.TICKVAULT_ENV!, 'qdrant', backupId, 'collections', 'trades.snapshot');
    fs.appendFileSync(file, ' ');
    try {
      const restore = await runRunbook('restore', ['qdrant', '--backup', backupId, '--target-url', fresh.url, '--json'], { env });
      expect(restore.code).toBe(3);
      expect(fresh.uploads).toHaveLength(0);
    } finally {
      await fresh.close();
    }
  });
});
