import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { exitCodeOf } from '../../runbooks/engine/errors';
import { restoreAsideName, swapIntoPlace } from '../../runbooks/stores/postgres/target-database';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook, type RunbookOutput } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/** #10 item 2 (restore targets) and #9 item 5 (scoping), on the real local stack. */
const stack = inject('stack');
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-targets-'));
const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const urlOf = (name: string) => {
  const u = new URL(stack.postgresUrl);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
};
const exists = async (name: string) => (await query(stack.postgresUrl, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;

function settled(out: RunbookOutput): RunbookOutput {
  expect(out.summary?.exitCode, out.stdout + out.stderr).toBe(out.code);
  return out;
}

async function smallDatabase(name: string, value: string): Promise<string> {
  await query(stack.postgresUrl, `CREATE DATABASE ${q(name)}`);
  const url = urlOf(name);
  await query(url, `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, $$${value}$$ FROM generate_series(1, 50) g`);
  return url;
}

describe('restore targets and scoping', () => {
  let a: string;
  let b: string;
  let idA: string;
  let idB: string;

  beforeAll(async () => {
    a = await smallDatabase(`scope_a_${crypto.randomBytes(3).toString('hex')}`, 'from a');
    b = await smallDatabase(`scope_b_${crypto.randomBytes(3).toString('hex')}`, 'from b');
    idA = settled(await runRunbook('backup', ['postgres', '--json', '--database-url', a], { env })).summary!.id as string;
    // B's backup is newer than A's: --latest for A must still pick A's.
    idB = settled(await runRunbook('backup', ['postgres', '--json', '--database-url', b], { env })).summary!.id as string;
  }, 120_000);

  it('restore --latest takes the newest backup of the database being restored, not a newer one of another', async () => {
    const target = urlOf(`scope_restored_${crypto.randomBytes(3).toString('hex')}`);
    const out = settled(await runRunbook('restore', ['postgres', '--latest', '--database-url', a, '--target-url', target, '--json'], { env }));
    expect(out.code, out.stdout).toBe(0);
    expect(out.summary!.backupId).toBe(idA);
    expect(await query(target, 'SELECT DISTINCT v FROM items')).toEqual([{ v: 'from a' }]);
  });

  it('backup list shows each backup\'s source', async () => {
    const out = settled(await runRunbook('backup', ['list', '--json'], { env }));
    const rows = out.summary!.backups as { id: string; source: string }[];
    const dbA = decodeURIComponent(new URL(a).pathname.slice(1));
    const dbB = decodeURIComponent(new URL(b).pathname.slice(1));
    expect(rows.find((r) => r.id === idA)!.source).toMatch(new RegExp(`^${dbA} @ `));
    expect(rows.find((r) => r.id === idB)!.source).toMatch(new RegExp(`^${dbB} @ `));
  });

  for (const [what, sql] of [
    ['a function', 'CREATE FUNCTION keep_me() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$'],
    ['a type', "CREATE TYPE keep_me AS ENUM ('x')"],
    ['a schema', 'CREATE SCHEMA keep_me'],
    ['a view', 'CREATE VIEW keep_me AS SELECT 1 AS one'],
    ['a sequence', 'CREATE SEQUENCE keep_me'],
  ] as const) {
    it(`a target holding only ${what} is not empty: refused (exit 4), left as it was`, async () => {
      const target = await createDatabase(stack.postgresUrl, 'busy');
      await query(target, sql);
      const out = settled(await runRunbook('restore', ['postgres', '--backup', idA, '--database-url', a, '--target-url', target, '--json'], { env }));
      expect(out.code).toBe(4);
      expect(out.events.find((e) => e.event === 'error')?.message).toMatch(/keep_me/);
      expect(await query(target, "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'items'")).toEqual([{ n: 0 }]);
    });
  }

  it('a database an interrupted restore adopted (it existed before) is refused, never dropped; one it created is recreated', async () => {
    const adopted = await createDatabase(stack.postgresUrl, 'adopted');
    const name = decodeURIComponent(new URL(adopted).pathname.slice(1));
    await query(adopted, 'CREATE TABLE precious (x int); INSERT INTO precious VALUES (42)');
    await query(stack.postgresUrl, `ALTER DATABASE ${q(name)} SET tickvault.restore = 'killedrun:adopted:${idA}'`);
    const refused = settled(await runRunbook('restore', ['postgres', '--backup', idA, '--database-url', a, '--target-url', adopted, '--json'], { env }));
    expect(refused.code).toBe(4);
    expect(await query(adopted, 'SELECT x FROM precious')).toEqual([{ x: 42 }]);

    const created = await createDatabase(stack.postgresUrl, 'created');
    const cname = decodeURIComponent(new URL(created).pathname.slice(1));
    await query(created, 'CREATE TABLE half_restored (x int)');
    await query(stack.postgresUrl, `ALTER DATABASE ${q(cname)} SET tickvault.restore = 'killedrun:created:${idA}'`);
    const resumed = settled(await runRunbook('restore', ['postgres', '--backup', idA, '--database-url', a, '--target-url', created, '--json'], { env }));
    expect(resumed.code, resumed.stdout).toBe(0);
    expect(resumed.summary).toMatchObject({ resumed: true });
    expect(await query(created, "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'half_restored'")).toEqual([{ n: 0 }]);
    // The marker is gone once the restore is verified.
    const settings = await query<{ s: string[] | null }>(stack.postgresUrl, 'SELECT (SELECT setconfig FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0) AS s FROM pg_database d WHERE datname = $1', [cname]);
    expect(settings[0]!.s ?? []).not.toContainEqual(expect.stringMatching(/^tickvault\.restore=/));
  });

  it('in place on a database whose name fills 63 bytes (unicode included): names stay unique, the kept copy is connectable', async () => {
    const name = `ü_${'x'.repeat(51)}_${crypto.randomBytes(4).toString('hex')}`; // 2 + 1 + 51 + 1 + 8 = 63 bytes
    expect(Buffer.byteLength(name)).toBe(63);
    const url = await smallDatabase(name, 'original');
    const made = settled(await runRunbook('backup', ['postgres', '--json', '--database-url', url], { env }));
    await query(url, "UPDATE items SET v = 'damaged'");
    const out = settled(await runRunbook('restore', ['postgres', '--latest', '--in-place', '--yes', '--database-url', url, '--json'], { env }));
    expect(out.code, out.stdout).toBe(0);
    expect(out.summary!.backupId).toBe(made.summary!.id);
    const kept = out.summary!.previousDatabase as string;
    expect(kept).not.toBe(name);
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(63);
    expect(await query(url, 'SELECT DISTINCT v FROM items')).toEqual([{ v: 'original' }]);
    expect(await query(urlOf(kept), 'SELECT DISTINCT v FROM items')).toEqual([{ v: 'damaged' }]);
    expect(restoreAsideName(name)).not.toBe(name);
  });

  it('a swap that fails after quiescing puts the original back, connectable, and is a failure (exit 1), not "nothing changed"', async () => {
    const original = await smallDatabase(`swap_${crypto.randomBytes(3).toString('hex')}`, 'live');
    const name = decodeURIComponent(new URL(original).pathname.slice(1));
    const aside = restoreAsideName(name);
    await query(stack.postgresUrl, `CREATE DATABASE ${q(aside)}`);
    // A session on the restored copy makes its rename fail, after the original was quiesced and renamed.
    const holder = new pg.Client({ connectionString: urlOf(aside) });
    await holder.connect();
    try {
      const error = await swapIntoPlace(original, aside).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(exitCodeOf(error)).toBe(1);
      expect((error as Error).message).toMatch(/put back/);
    } finally {
      await holder.end();
    }
    expect(await exists(name)).toBe(true);
    expect(await query(stack.postgresUrl, 'SELECT datallowconn FROM pg_database WHERE datname = $1', [name])).toEqual([{ datallowconn: true }]);
    expect(await query(original, 'SELECT DISTINCT v FROM items')).toEqual([{ v: 'live' }]);
  });
});
