import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { acquireFileLock } from '../../runbooks/engine/lock';
import { backupLockKey, LEASE_FILE, newBackupId } from '../../runbooks/repository/manifest';
import { fileRepositoryKey, signRecord } from '../../runbooks/repository/signing';
import { createDatabase } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
const ids: string[] = [];

/** Age a backup by rewriting its manifest's finishedAt (re-signed with the repository key, as its writer would). */
function age(id: string, days: number, e = env, store = 'postgres') {
  const file = path.join(repoDir, e.TICKVAULT_ENV!, store, id, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  manifest.finishedAt = new Date(Date.now() - days * 86_400_000).toISOString();
  fs.writeFileSync(file, JSON.stringify(signRecord(fileRepositoryKey(path.join(inject('stack').home, 'repository.key')), manifest)));
}

beforeAll(async () => {
  const db = await createDatabase(inject('stack').postgresUrl, 'prune');
  expect((await runRunbook('seed', ['--json', '--database-url', db, '--scale', '0.01'], { env })).code).toBe(0);
  for (let i = 0; i < 3; i++) ids.push((await runRunbook('backup', ['postgres', '--json', '--database-url', db], { env })).summary!.id as string);
});

describe('retention (prune)', () => {
  it('--dry-run lists what would go and deletes nothing', async () => {
    age(ids[0]!, 45);
    age(ids[1]!, 40);
    const dry = await runRunbook('backup', ['prune', '--dry-run', '--json'], { env });
    expect(dry.code).toBe(0);
    expect(dry.summary!.wouldDelete).toEqual([ids[0], ids[1]]);
    expect(fs.readdirSync(path.join(repoDir, env.TICKVAULT_ENV!, 'postgres')).sort()).toEqual([...ids].sort());
  });

  it('deletes expired backups covered by a newer good one, and never the last good backup', async () => {
    expect((await runRunbook('backup', ['prune', '--json'], { env })).code).toBe(4);
    const pruned = await runRunbook('backup', ['prune', '--yes', '--json'], { env });
    expect(pruned.summary!.deleted).toEqual([ids[0], ids[1]]);
    expect(fs.readdirSync(path.join(repoDir, env.TICKVAULT_ENV!, 'postgres'))).toEqual([ids[2]]);
    age(ids[2]!, 400);
    const again = await runRunbook('backup', ['prune', '--yes', '--json'], { env });
    expect(again.summary!.deleted).toEqual([]);
    expect(fs.readdirSync(path.join(repoDir, env.TICKVAULT_ENV!, 'postgres'))).toEqual([ids[2]]);
  });
});

describe('retention covers only with verified backups', () => {
  it('a truncated newest backup does not cover the only verified one: prune re-verifies it, it fails, the verified one stays', async () => {
    const redisEnv = stackEnv({ BACKUP_REPO: `file://${repoDir}`, REDIS_URL: inject('stack').redisUrl });
    const backup = async () => (await runRunbook('backup', ['redis', '--json'], { env: redisEnv })).summary!.id as string;
    const verified = await backup();
    expect((await runRunbook('backup', ['verify', verified, '--json'], { env: redisEnv })).code).toBe(0);
    const truncated = await backup();
    age(verified, 90, redisEnv, 'redis');
    const rdb = path.join(repoDir, redisEnv.TICKVAULT_ENV!, 'redis', truncated, 'dump.rdb');
    fs.truncateSync(rdb, Math.floor(fs.statSync(rdb).size / 2));
    const pruned = await runRunbook('backup', ['prune', '--yes', '--json'], { env: redisEnv });
    expect(pruned.code, pruned.stdout).toBe(0);
    expect(pruned.summary!.deleted).toEqual([]);
    expect(fs.readdirSync(path.join(repoDir, redisEnv.TICKVAULT_ENV!, 'redis')).sort()).toEqual([verified, truncated].sort());
    expect(pruned.events.some((e) => e.event === 'warn' && String(e.message).includes(`${truncated} failed verification`))).toBe(true);
    // Once a newer backup verifies, the old one is covered and goes.
    const good = await backup();
    const again = await runRunbook('backup', ['prune', '--yes', '--json'], { env: redisEnv });
    expect(again.summary!.deleted).toEqual([verified]);
    expect(fs.readdirSync(path.join(repoDir, redisEnv.TICKVAULT_ENV!, 'redis')).sort()).toEqual([truncated, good].sort());
  });
});

describe('prune and a backup still being written', () => {
  const leaseEnv = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
  /** A manifest-less folder started three days ago, as a long backup (or a killed one) leaves it. */
  function oldFolder(lease?: { host: string; until: Date }): string {
    const id = newBackupId('postgres', 'logical', new Date(Date.now() - 3 * 86_400_000));
    const dir = path.join(repoDir, leaseEnv.TICKVAULT_ENV!, 'postgres', id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'toc.dat'), 'partial');
    if (lease) fs.writeFileSync(path.join(dir, LEASE_FILE), JSON.stringify({ run: 'r-other', pid: 1, host: lease.host, leaseUntil: lease.until.toISOString() }));
    return id;
  }
  const folders = () => fs.readdirSync(path.join(repoDir, leaseEnv.TICKVAULT_ENV!, 'postgres')).sort();

  it('keeps a folder whose writer holds a live lease (any host) or the backup lock (this host), removes one whose writer is gone', async () => {
    const leased = oldFolder({ host: 'another-host', until: new Date(Date.now() + 600_000) });
    const expired = oldFolder({ host: 'another-host', until: new Date(Date.now() - 600_000) });
    const bare = oldFolder();
    const locked = oldFolder();
    // This test process stands for a live backup writer on this host.
    const home = process.env.TICKVAULT_HOME;
    process.env.TICKVAULT_HOME = leaseEnv.TICKVAULT_HOME;
    const lock = await acquireFileLock('backup', backupLockKey(`file://${repoDir}`, leaseEnv.TICKVAULT_ENV!, locked), 'r-writer');
    process.env.TICKVAULT_HOME = home;
    try {
      const pruned = await runRunbook('backup', ['prune', '--yes', '--json'], { env: leaseEnv });
      expect(pruned.code, pruned.stdout).toBe(0);
      expect((pruned.summary!.removedIncomplete as string[]).sort()).toEqual([expired, bare].sort());
      expect(folders()).toEqual([leased, locked].sort());
      const kept = pruned.events.filter((e) => e.event === 'warn' && String(e.message).includes('still being written')).map((e) => String(e.message));
      expect(kept.some((m) => m.includes(leased) && m.includes('another-host'))).toBe(true);
      expect(kept.some((m) => m.includes(locked) && m.includes('r-writer'))).toBe(true);
    } finally {
      await lock.release();
    }
    // Writer gone (lock released): the folder is now a leftover.
    const again = await runRunbook('backup', ['prune', '--yes', '--json'], { env: leaseEnv });
    expect(again.summary!.removedIncomplete).toEqual([locked]);
    expect(folders()).toEqual([leased]);
  });

  it('a finished backup leaves no lease in its folder', async () => {
    const db = await createDatabase(inject('stack').postgresUrl, 'prune_lease');
    const run = await runRunbook('backup', ['postgres', '--json', '--database-url', db], { env: leaseEnv });
    expect(run.code, run.stdout).toBe(0);
    const files = fs.readdirSync(path.join(repoDir, leaseEnv.TICKVAULT_ENV!, 'postgres', run.summary!.id as string));
    expect(files).toContain('manifest.json');
    expect(files).not.toContain(LEASE_FILE);
  });
});
