import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fileRepositoryKey, signRecord } from '../../runbooks/repository/signing';
import { createDatabase, query } from '../helpers/databases';
import { startPrivateRedis } from '../helpers/private-redis';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/**
 * The backup repository as an attacker with write access (but no key) and
 * a tired operator with damaged files would leave it. Independent checks:
 * the file system itself (what exists, modes) and plain SQL.
 */
const stack = inject('stack');
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-hostile-'));
fs.chmodSync(repoDir, 0o700);
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let env: Record<string, string>;
const ids: string[] = [];

const folder = (id: string) => path.join(repoDir, env.TICKVAULT_ENV!, id.split('-')[0]!, id);
const manifestFile = (id: string) => path.join(folder(id), 'manifest.json');
const readManifest = (id: string) => JSON.parse(fs.readFileSync(manifestFile(id), 'utf8')) as Record<string, any>;
/** An insider with the key: proves the structural checks hold even for an authentic manifest. */
const signed = (m: Record<string, unknown>) => signRecord(fileRepositoryKey(path.join(stack.home, 'repository.key')), m);

async function backupRedis(): Promise<string> {
  const out = await runRunbook('backup', ['redis', '--json'], { env });
  expect(out.code, out.stdout + out.stderr).toBe(0);
  return out.summary!.id as string;
}

/** Run fn, then put the backup folder back exactly as it was. */
async function withDamage(id: string, damage: () => void, fn: () => Promise<void>) {
  const saved = path.join(os.tmpdir(), `tv-saved-${path.basename(folder(id))}-${process.pid}`);
  fs.cpSync(folder(id), saved, { recursive: true, verbatimSymlinks: true });
  try {
    damage();
    await fn();
  } finally {
    fs.rmSync(folder(id), { recursive: true, force: true });
    fs.renameSync(saved, folder(id));
  }
}

beforeAll(async () => {
  redis = await startPrivateRedis();
  env = stackEnv({ BACKUP_REPO: `file://${repoDir}`, REDIS_URL: redis.url });
  ids.push(await backupRedis(), await backupRedis());
});

afterAll(async () => {
  await redis.stop();
});

describe('manifests and repository files are untrusted input', () => {
  it('a file entry escaping the backup ("../../../x") is refused with exit 3 and nothing is written, even with a valid mac', async () => {
    const victim = path.join(os.tmpdir(), `tv-escape-${process.pid}`);
    const id = ids[0]!;
    await withDamage(id, () => {
      const m = readManifest(id);
      const rel = path.relative(path.join(stack.home, 'tmp', 'x'), victim);
      m.files.push({ path: rel, size: 3, sha256: '0'.repeat(64) });
      m.files.push({ path: '/etc/tickvault-abs', size: 3, sha256: '0'.repeat(64) });
      fs.writeFileSync(manifestFile(id), JSON.stringify(signed(m)));
    }, async () => {
      const restore = await runRunbook('restore', ['redis', '--backup', id, '--json'], { env });
      expect(restore.code).toBe(3);
      expect(restore.events.find((e) => e.event === 'error')?.message).toMatch(/relative path inside the backup/);
      expect(fs.existsSync(victim)).toBe(false);
      expect(fs.existsSync('/etc/tickvault-abs')).toBe(false);
    });
  });

  it('a symlink in place of an artifact is refused (exit 3)', async () => {
    const id = ids[0]!;
    await withDamage(id, () => {
      const rdb = path.join(folder(id), 'dump.rdb');
      fs.renameSync(rdb, path.join(repoDir, 'outside.rdb'));
      fs.symlinkSync(path.join(repoDir, 'outside.rdb'), rdb);
    }, async () => {
      const verify = await runRunbook('backup', ['verify', id, '--json'], { env });
      expect(verify.code).toBe(3);
      expect(verify.events.find((e) => e.event === 'error')?.message).toMatch(/symlink/);
      fs.rmSync(path.join(repoDir, 'outside.rdb'));
    });
  });

  it('a sha256 rewritten by someone without the key is detected (exit 3); list names it and still lists the other', async () => {
    const id = ids[0]!;
    await withDamage(id, () => {
      const m = readManifest(id);
      m.files[0].sha256 = 'a'.repeat(64);
      fs.writeFileSync(manifestFile(id), JSON.stringify(m));
    }, async () => {
      const restore = await runRunbook('restore', ['redis', '--backup', id, '--json'], { env });
      expect(restore.code).toBe(3);
      expect(restore.events.find((e) => e.event === 'error')?.message).toMatch(/mac does not match/);
      const list = await runRunbook('backup', ['list', '--json'], { env });
      expect(list.code).toBe(0);
      expect((list.summary!.backups as { id: string }[]).map((b) => b.id)).toEqual([ids[1]]);
      expect(JSON.stringify(list.summary!.problems)).toContain(id);
    });
  });

  it('an extra or a missing file in a backup folder is exit 3', async () => {
    const id = ids[0]!;
    await withDamage(id, () => fs.writeFileSync(path.join(folder(id), 'extra.bin'), 'planted'), async () => {
      const verify = await runRunbook('backup', ['verify', id, '--json'], { env });
      expect(verify.code).toBe(3);
      expect(verify.events.find((e) => e.event === 'error')?.message).toMatch(/extra\.bin: not in the manifest/);
    });
    await withDamage(id, () => fs.rmSync(path.join(folder(id), 'dump.rdb')), async () => {
      const restore = await runRunbook('restore', ['redis', '--backup', id, '--json'], { env });
      expect(restore.code).toBe(3);
      expect(restore.events.find((e) => e.event === 'error')?.message).toMatch(/dump\.rdb \(missing\)/);
    });
  });

  it('backup ids are checked against their grammar: a hostile --backup flag is exit 2 and reaches nothing', async () => {
    const hostile = "redis-rdb-x'; CREATE ROLE tv_pwned SUPERUSER; --";
    const restore = await runRunbook('restore', ['redis', '--backup', hostile, '--json'], { env });
    expect(restore.code).toBe(2);
    expect(restore.events.find((e) => e.event === 'error')?.message).toMatch(/not a backup id/);
    const traversal = await runRunbook('backup', ['verify', '../../etc', '--json'], { env });
    expect(traversal.code).toBe(2);
  });

  it('one malformed manifest is reported by name and skipped by list, restore --latest and prune', async () => {
    const id = ids[1]!;
    await withDamage(id, () => fs.writeFileSync(manifestFile(id), '{"formatVersion": 1, "id": '), async () => {
      const list = await runRunbook('backup', ['list', '--json'], { env });
      expect(list.code).toBe(0);
      expect((list.summary!.backups as { id: string }[]).map((b) => b.id)).toEqual([ids[0]]);
      expect((list.summary!.problems as { key: string }[]).map((p) => p.key)).toEqual([`${env.TICKVAULT_ENV}/redis/${id}/manifest.json`]);
      const latest = await runRunbook('restore', ['redis', '--latest', '--json'], { env });
      expect(latest.code, latest.stdout).toBe(0);
      expect(latest.summary!.backupId).toBe(ids[0]);
      const prune = await runRunbook('backup', ['prune', '--dry-run', '--json'], { env });
      expect(prune.code).toBe(0);
      expect(prune.summary!.skipped).toEqual([`${env.TICKVAULT_ENV}/redis/${id}/manifest.json`]);
    });
  });

  it('backups in a file:// repository are 0600 in 0700 folders', () => {
    for (const id of ids) {
      expect(fs.statSync(folder(id)).mode & 0o777).toBe(0o700);
      for (const name of fs.readdirSync(folder(id))) expect(fs.statSync(path.join(folder(id), name)).mode & 0o777, name).toBe(0o600);
    }
  });

  it('staging left by a killed run is cleaned by the next run', async () => {
    const tmp = path.join(stack.home, 'tmp');
    const left = path.join(tmp, 'redis-rdb-20200101T000000Z-dead-abc123');
    fs.mkdirSync(left, { recursive: true });
    fs.writeFileSync(path.join(left, 'dump.rdb'), 'partial');
    // pid 2^22+12345 is above pid_max: no such process.
    fs.writeFileSync(`${left}.owner.json`, JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), at: '2020-01-01T00:00:00Z' }));
    ids.push(await backupRedis());
    expect(fs.existsSync(left)).toBe(false);
    expect(fs.existsSync(`${left}.owner.json`)).toBe(false);
  });

  it('a folder without a manifest is reported by list and removed by prune once it is old', async () => {
    const orphan = path.join(repoDir, env.TICKVAULT_ENV!, 'redis', 'redis-rdb-20200101T000000Z-dead');
    fs.mkdirSync(orphan, { recursive: true });
    fs.writeFileSync(path.join(orphan, 'dump.rdb'), 'half an upload');
    const list = await runRunbook('backup', ['list', '--json'], { env });
    expect((list.summary!.incomplete as { id: string }[]).map((i) => i.id)).toEqual(['redis-rdb-20200101T000000Z-dead']);
    const prune = await runRunbook('backup', ['prune', '--yes', '--json'], { env });
    expect(prune.code, prune.stdout).toBe(0);
    expect(prune.summary!.removedIncomplete).toEqual(['redis-rdb-20200101T000000Z-dead']);
    expect(fs.existsSync(orphan)).toBe(false);
  });
});

describe('a hostile backup id never reaches SQL', () => {
  it('restore --latest skips a manifest whose id carries SQL, and no role appears', async () => {
    const db = await createDatabase(stack.postgresUrl, 'hostile');
    await query(db, 'CREATE TABLE t (id int primary key, v text, at timestamptz NOT NULL DEFAULT now()); INSERT INTO t (id, v) SELECT g, md5(g::text) FROM generate_series(1, 200) g');
    const pgEnv = { ...env, DATABASE_URL: db };
    const made = await runRunbook('backup', ['postgres', '--json'], { env: pgEnv });
    expect(made.code, made.stdout).toBe(0);
    const good = made.summary!.id as string;
    // A newer copy whose id (folder and manifest) carries SQL, signed by an insider.
    const evilId = "postgres-logical-29990101T000000Z-0000'; CREATE ROLE tv_pwned SUPERUSER; --";
    const evil = path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', evilId);
    fs.cpSync(folder(good), evil, { recursive: true });
    const m = readManifest(good);
    m.id = evilId;
    m.finishedAt = '2999-01-01T00:00:00.000Z';
    fs.writeFileSync(path.join(evil, 'manifest.json'), JSON.stringify(signed(m)));
    const target = new URL(db);
    target.pathname = `/${target.pathname.slice(1)}_restored`;
    const restore = await runRunbook('restore', ['postgres', '--latest', '--target-url', target.toString(), '--json'], { env: pgEnv });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary!.backupId).toBe(good);
    expect(restore.events.some((e) => e.event === 'warn' && String(e.message).includes('not a backup folder name'))).toBe(true);
    expect(await query(stack.postgresUrl, "SELECT 1 FROM pg_roles WHERE rolname = 'tv_pwned'")).toHaveLength(0);
    fs.rmSync(evil, { recursive: true, force: true });
  });
});
