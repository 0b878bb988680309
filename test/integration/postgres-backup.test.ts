import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { root, runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
// Seeded data ends at 2026-01-18T00:00Z; an incident soon after keeps RPO within target.
const INCIDENT = ['--incident-time', '2026-01-18T01:00:00Z'];

async function contentHash(url: string): Promise<string> {
  const tables = await query<{ table_name: string }>(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1");
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const [r] = await query<{ n: string; h: string }>(url, `SELECT count(*)::text AS n, coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text AS h FROM public.${table_name} t`);
    parts.push(`${table_name}:${r?.n}:${r?.h}`);
  }
  return parts.join('|');
}

describe('PostgreSQL logical backup and restore', () => {
  let source: string;
  let backupId: string;
  const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
  const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });

  beforeAll(async () => {
    source = await createDatabase(stack.postgresUrl, 'src');
    const seeded = await runRunbook('seed', ['--json', '--database-url', source, '--scale', '0.02'], { env });
    expect(seeded.code, seeded.stderr).toBe(0);
    const backup = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
    expect(backup.code, backup.stdout).toBe(0);
    backupId = backup.summary!.id as string;
  });

  it('round trip into a new database: content hash before = after', async () => {
    const target = new URL(source);
    target.pathname = `/restored_${Date.now()}`;
    const restore = await runRunbook('restore', ['postgres', '--backup', backupId, '--target-url', target.toString(), '--json', '--scenario', 'corruption', '--incident-time', '2026-01-18T00:30:00Z'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary).toMatchObject({ ok: true, tablesVerified: 9, fingerprintCompared: true, objectives: { scenario: 'corruption', rtoMet: true, rpoMet: true } });
    expect(typeof restore.summary!.rtoMs).toBe('number');
    expect(restore.summary!.rpoMs).toBeLessThan(3_600_000);
    expect(await contentHash(target.toString())).toBe(await contentHash(source));
  });

  it('the artifacts are readable by pg_restore --list without tickvault', async () => {
    const dumpDir = path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', backupId, 'dump');
    const list = await $`pg_restore --list ${dumpDir}`;
    expect(list.stdout).toMatch(/TABLE DATA public tick_data/);
    const manifest = JSON.parse(fs.readFileSync(path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', backupId, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ id: backupId, store: 'postgres', kind: 'logical', tool: { name: 'pg_dump' }, dataUpTo: expect.any(String) });
    expect(manifest.files.every((f: { sha256: string }) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
    expect(manifest.tables).toHaveLength(9);
  });

  it('a tampered artifact is refused (exit 3) before the target is touched', async () => {
    const dumpDir = path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', backupId, 'dump');
    const victim = fs.readdirSync(dumpDir).find((f) => f.endsWith('.dat.gz'))!;
    const file = path.join(dumpDir, victim);
    const original = fs.readFileSync(file);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10]! ^= 0xff;
    fs.writeFileSync(file, tampered);
    try {
      const target = new URL(source);
      target.pathname = `/tampered_${Date.now()}`;
      const restore = await runRunbook('restore', ['postgres', '--backup', backupId, '--target-url', target.toString(), '--json'], { env });
      expect(restore.code).toBe(3);
      expect(restore.events.find((e) => e.event === 'error')?.message).toMatch(/checksum.*target was not touched/);
      const exists = await query(stack.postgresUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [target.pathname.slice(1)]);
      expect(exists).toHaveLength(0);
      const verify = await runRunbook('backup', ['verify', backupId, '--json'], { env });
      expect(verify.code).toBe(3);
      const list = await runRunbook('backup', ['list', '--json'], { env });
      expect((list.summary!.backups as { id: string; good: boolean }[]).find((b) => b.id === backupId)?.good).toBe(false);
    } finally {
      fs.writeFileSync(file, original);
      expect((await runRunbook('backup', ['verify', backupId, '--json'], { env })).code).toBe(0);
    }
  });

  it('refuses a target that is not empty (exit 4) and leaves it as it was', async () => {
    const target = await createDatabase(stack.postgresUrl, 'busy');
    await query(target, 'CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (1)');
    const restore = await runRunbook('restore', ['postgres', '--latest', '--database-url', source, '--target-url', target, '--json'], { env });
    expect(restore.code).toBe(4);
    expect(await query(target, 'SELECT x FROM keep_me')).toEqual([{ x: 1 }]);
  });

  it('bad input: wrong password (2), no such backup (2), missing flags (2), unknown repo scheme (2)', async () => {
    const bad = new URL(source);
    bad.password = 'definitely-wrong-pw';
    const wrongPw = await runRunbook('backup', ['postgres', '--json', '--database-url', bad.toString()], { env });
    expect(wrongPw.code).toBe(2);
    expect(wrongPw.stdout).not.toContain('definitely-wrong-pw');
    expect((await runRunbook('restore', ['postgres', '--backup', 'postgres-logical-20000101T000000Z-dead', '--target-url', source, '--json'], { env })).code).toBe(2);
    expect((await runRunbook('restore', ['postgres', '--latest', '--json'], { env })).code).toBe(2);
    expect((await runRunbook('backup', ['list', '--json', '--repo', 'ftp://x/y'], { env })).code).toBe(2);
  });

  it('a restore killed with kill -9 succeeds when re-run', async () => {
    // Big enough that pg_restore is still running when the kill lands.
    const big = await createDatabase(stack.postgresUrl, 'big');
    expect((await runRunbook('seed', ['--json', '--database-url', big, '--scale', '0.4'], { env })).code).toBe(0);
    const made = await runRunbook('backup', ['postgres', '--json', '--database-url', big], { env });
    const bigId = made.summary!.id as string;
    const target = new URL(source);
    target.pathname = `/killed_${Date.now()}`;
    const args = ['--import', 'tsx', path.join(root, 'runbooks', 'restore.ts'), 'postgres', '--backup', bigId, '--target-url', target.toString(), '--json', '--jobs', '1', ...INCIDENT];
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/"step":"pg_restore[^"]*","event":"start"/.test(out)) {
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 150);
        }
      });
      child.on('exit', () => reject(new Error(`restore ended before it could be killed:\n${out}`)));
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const again = await runRunbook('restore', ['postgres', '--backup', bigId, '--target-url', target.toString(), '--json', ...INCIDENT], { env });
    expect(again.code, again.stdout).toBe(0);
    expect(again.summary).toMatchObject({ resumed: true, tablesVerified: 9 });
    expect(await contentHash(target.toString())).toBe(await contentHash(big));
  });

  it('in place: restored aside, verified, swapped in; the replaced database is kept', async () => {
    const url = await createDatabase(stack.postgresUrl, 'inplace');
    expect((await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01'], { env })).code).toBe(0);
    const before = await contentHash(url);
    const made = await runRunbook('backup', ['postgres', '--json', '--database-url', url], { env });
    await query(url, 'DROP TABLE pattern_cache');
    const refused = await runRunbook('restore', ['postgres', '--backup', made.summary!.id as string, '--in-place', '--database-url', url, '--json'], { env });
    expect(refused.code).toBe(4);
    const restore = await runRunbook('restore', ['postgres', '--backup', made.summary!.id as string, '--in-place', '--yes', '--database-url', url, '--json', ...INCIDENT], { env });
    expect(restore.code, restore.stdout).toBe(0);
    expect(await contentHash(url)).toBe(before);
    const kept = restore.summary!.previousDatabase as string;
    expect(await query(stack.postgresUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [kept])).toHaveLength(1);
  });

  it('--dry-run restore checks the artifacts and changes nothing', async () => {
    const target = new URL(source);
    target.pathname = `/dry_${Date.now()}`;
    const dry = await runRunbook('restore', ['postgres', '--latest', '--database-url', source, '--target-url', target.toString(), '--json', '--dry-run'], { env });
    expect(dry.code, dry.stdout).toBe(0);
    expect(await query(stack.postgresUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [target.pathname.slice(1)])).toHaveLength(0);
  });
});
