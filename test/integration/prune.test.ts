import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
const ids: string[] = [];

/** Age a backup by rewriting its manifest's finishedAt. */
function age(id: string, days: number) {
  const file = path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', id, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  manifest.finishedAt = new Date(Date.now() - days * 86_400_000).toISOString();
  fs.writeFileSync(file, JSON.stringify(manifest));
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
