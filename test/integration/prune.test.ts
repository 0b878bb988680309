import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
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
