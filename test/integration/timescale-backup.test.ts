import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fileRepositoryKey, signRecord } from '../../runbooks/repository/signing';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';
import { requireTimescale } from '../helpers/timescale';
import { buildTimescaleFixture, timescaleFacts } from '../helpers/timescale-fixture';

const stack = inject('stack');
const ready = await requireTimescale(stack.postgresUrl, 'TimescaleDB backup/restore tests');

const databaseExists = async (name: string) => (await query(stack.postgresUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length > 0;

describe.skipIf(!ready)('TimescaleDB logical backup and restore (Timescale procedure)', () => {
  let source: string;
  let backupId: string;
  const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-ts-repo-'));
  const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
  const backupDir = (id: string) => path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', id);

  /** A copy of the backup under a new id, with its manifest edited (to fake another version or a wrong record) and re-signed. */
  function variant(edit: (manifest: any) => void): string {
    const id = backupId.replace(/-[0-9a-f]{4}$/, `-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`);
    fs.cpSync(backupDir(backupId), backupDir(id), { recursive: true });
    const file = path.join(backupDir(id), 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
    manifest.id = id;
    edit(manifest);
    // Re-signed with the repository key, as its writer would (manifests are authenticated).
    fs.writeFileSync(file, JSON.stringify(signRecord(fileRepositoryKey(path.join(stack.home, 'repository.key')), manifest)));
    return id;
  }

  beforeAll(async () => {
    source = await createDatabase(stack.postgresUrl, 'ts_src');
    await buildTimescaleFixture(source);
    const backup = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
    expect(backup.code, backup.stdout).toBe(0);
    backupId = backup.summary!.id as string;
  });

  it('the fixture is what seed 004 describes: compressed hypertable, aggregates, policies', async () => {
    const facts = await timescaleFacts(source);
    expect(facts.ticks.n).toBe('6000');
    expect(Number(facts.chunks.compressed)).toBeGreaterThanOrEqual(5);
    expect(Number(facts.chunks.chunks)).toBeGreaterThanOrEqual(10);
    expect(Number(facts.chunks.compressed)).toBeGreaterThan(0);
    expect(Number(facts.chunks.compressed)).toBeLessThan(Number(facts.chunks.chunks));
    expect(Number(facts.aggregates.tick_ohlcv_1h!.n)).toBeGreaterThan(0);
    expect(facts.jobs.map((j) => j.split(' ')[0])).toEqual(['policy_compression', 'policy_refresh_continuous_aggregate', 'policy_refresh_continuous_aggregate']);
  });

  it('records the extension version and the TimescaleDB objects in the manifest', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(backupDir(backupId), 'manifest.json'), 'utf8'));
    expect(manifest.server.extensions.timescaledb).toBe('2.28.3');
    expect(manifest.details.timescale.version).toBe('2.28.3');
    expect(manifest.details.timescale.aggregates).toHaveLength(2);
    expect(manifest.details.timescale.jobs).toHaveLength(3);
    expect(manifest.details.timescale.hypertables[0]).toMatchObject({ name: 'public.tick_data' });
  });

  it('restores with pre/post_restore: rows, chunks, compressed chunks, aggregates and jobs identical (independent SQL)', async () => {
    const target = new URL(source);
    target.pathname = `/ts_restored_${Date.now()}`;
    // The ticks end two days ago: an incident just after the newest one keeps RPO in target.
    const dataUpTo = JSON.parse(fs.readFileSync(path.join(backupDir(backupId), 'manifest.json'), 'utf8')).dataUpTo as string;
    const incident = new Date(Date.parse(dataUpTo) + 60_000).toISOString();
    const restore = await runRunbook('restore', ['postgres', '--backup', backupId, '--target-url', target.toString(), '--json', '--incident-time', incident], { env });
    expect(restore.code, restore.stdout.slice(-2000)).toBe(0);
    const steps = (restore.summary!.steps as { step: string; status: string }[]).map((s) => s.step);
    expect(steps).toContain('pg_restore schema and data (TimescaleDB restoring mode)');
    expect(steps).toContain('verify hypertables, compressed chunks, continuous aggregates and jobs');
    const [before, after] = await Promise.all([timescaleFacts(source), timescaleFacts(target.toString())]);
    expect(after).toEqual(before);
    // Compressed chunks come back compressed, not as plain rows in the chunk.
    expect(Number(after.chunks.compressed)).toBeGreaterThan(0);
    // post_restore re-enabled the scheduler: the restored database is out of restore mode.
    const [mode] = await query<{ v: string }>(target.toString(), "SELECT current_setting('timescaledb.restoring') AS v");
    expect(mode!.v).toBe('off');
  });

  it('refuses a target whose TimescaleDB version differs (exit 2, nothing created)', async () => {
    const id = variant((m) => {
      m.server.extensions.timescaledb = '2.27.0';
      m.details.timescale.version = '2.27.0';
    });
    const name = `ts_refused_${Date.now()}`;
    const target = new URL(source);
    target.pathname = `/${name}`;
    const refused = await runRunbook('restore', ['postgres', '--backup', id, '--target-url', target.toString()], { env });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/TimescaleDB 2\.27\.0.*2\.28\.3/);
    expect(refused.stderr).toMatch(/--timescale-update/);
    expect(await databaseExists(name)).toBe(false);
    // Restore-then-update needs the backup's version installable on the target; this one is not.
    const update = await runRunbook('restore', ['postgres', '--backup', id, '--target-url', target.toString(), '--timescale-update'], { env });
    expect(update.code, update.stderr).toBe(2);
    expect(update.stderr).toMatch(/needs TimescaleDB 2\.27\.0 installable/);
    expect(await databaseExists(name)).toBe(false);
  });

  it('fails verification (exit 3) when the restored chunks do not match the record', async () => {
    const id = variant((m) => {
      m.details.timescale.hypertables[0].compressedChunks += 1;
    });
    const target = new URL(source);
    target.pathname = `/ts_mismatch_${Date.now()}`;
    const restore = await runRunbook('restore', ['postgres', '--backup', id, '--target-url', target.toString(), '--json'], { env });
    expect(restore.code).toBe(3);
    expect(JSON.stringify(restore.summary)).toMatch(/compressed chunks, backup had/);
  });
});

// PITR with TimescaleDB is in pitr.test.ts: physical restores of the shared stack share one pgBackRest lock.
