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
  // Seed 004's four collections: 843 trade embeddings, none yet for playbooks and journal
  // entries (the seed names three; the fourth, patterns, is ours).
  addCollection(source, 'trades', 843);
  addCollection(source, 'playbooks', 12);
  addCollection(source, 'journal_entries', 0);
  addCollection(source, 'patterns', 5);
  env = stackEnv({ BACKUP_REPO: `file://${repoDir}`, QDRANT_URL: source.url });
});
afterAll(async () => {
  // Every request the product sent and every response the double gave conform to Qdrant's OpenAPI document.
  expect(source.violations).toEqual([]);
  expect(target.violations).toEqual([]);
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
    expect(manifest.details.collections).toEqual({ journal_entries: 0, patterns: 5, playbooks: 12, trades: 843 });
    expect(new Set(source.operations)).toEqual(new Set(['root', 'get_collections', 'count_points', 'create_snapshot', 'get_snapshot', 'delete_snapshot']));
  });

  it('restores into another Qdrant with priority=snapshot and the checksum; points match', async () => {
    const restore = await runRunbook('restore', ['qdrant', '--backup', backupId, '--target-url', target.url, '--json'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary).toMatchObject({ collections: 4, points: 860, recoveryPoint: { basis: 'snapshot creation time' } });
    expect(target.operations).toContain('recover_from_uploaded_snapshot');
    expect(target.uploads.every((u) => u.priority === 'snapshot' && /^[0-9a-f]{64}$/.test(u.checksum ?? ''))).toBe(true);
    expect(target.collections.get('trades')?.points).toHaveLength(843);
    expect(target.collections.get('journal_entries')?.points).toHaveLength(0);
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

describe('the double holds every exchange to Qdrant\'s OpenAPI document (v1.19.x)', () => {
  it('a request outside the spec is answered with an error and recorded as a violation', async () => {
    const double = await startQdrantDouble();
    try {
      addCollection(double, 'trades', 2);
      const wrongBody = await fetch(`${double.url}/collections/trades/points/count`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exact: 'yes' }) });
      expect(wrongBody.status).toBe(400);
      const wrongQuery = await fetch(`${double.url}/collections/trades/snapshots/upload?priority=urgent`, { method: 'POST', body: new FormData() });
      expect(wrongQuery.status).toBe(400);
      const noSuchPath = await fetch(`${double.url}/collections/trades/backup`, { method: 'POST' });
      expect(noSuchPath.status).toBe(404);
      expect(double.violations).toHaveLength(3);
      expect(double.violations[0]).toMatch(/count_points.*exact must be boolean/);
      expect(double.violations[1]).toMatch(/priority/);
      expect(double.violations[2]).toMatch(/POST \/collections\/trades\/backup is not an operation/);
      // A conforming request passes, and its response conforms too.
      const good = await fetch(`${double.url}/collections/trades/points/count`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ exact: true }) });
      expect(await good.json()).toMatchObject({ result: { count: 2 } });
      expect(double.violations).toHaveLength(3);
    } finally {
      await double.close();
    }
  });
});
