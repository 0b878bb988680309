import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { libpqConnection, pgBin } from '../../runbooks/stores/postgres/binaries';
import { bigTableData, splitLoad } from '../../runbooks/stores/postgres/split-load';
import type { Run } from '../../runbooks/engine/run';
import { createDatabase, query } from '../helpers/databases';
import { rowHashes } from '../helpers/independent';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/**
 * split-load.ts against a real server and real pg_restore: a COPY that
 * fails mid-table ends the load with the server's error (no hang, on one
 * session or two), and a dump it cannot cut safely (a LATIN1 dump naming a
 * table in non-ASCII) is restored whole by pg_restore instead, with the
 * result held against independent row hashes. The restore creates the
 * target in the source's encoding and refuses an empty one in another.
 */
const stack = inject('stack');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-split-it-'));
const run = { onCleanup: () => undefined } as unknown as Run;

async function dump(url: string, dir: string): Promise<string> {
  const { conninfo, env } = libpqConnection(url);
  await $({ env: { ...process.env, ...env } })`${pgBin('pg_dump')} -Fd -Z1 -f ${dir} --dbname=${conninfo}`;
  return (await $`${pgBin('pg_restore')} --list ${dir}`).stdout;
}

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('a COPY that fails in the middle of a split load', () => {
  let dumpDir = '';
  let listing = '';
  beforeAll(async () => {
    const source = await createDatabase(stack.postgresUrl, 'split_src');
    await query(source, `CREATE TABLE t (id integer, v text); INSERT INTO t SELECT g, repeat('x', 90) FROM generate_series(1, 3000) g`);
    dumpDir = path.join(work, 'fail');
    listing = await dump(source, dumpDir);
  });

  it.each([1, 2])('on %i session(s): rejects with the server\'s error, pg_restore stopped, nothing hangs', async (sessions) => {
    const target = await createDatabase(stack.postgresUrl, 'split_fail');
    // Row 2500 lies in a late piece: earlier pieces load, then this one fails.
    await query(target, 'CREATE TABLE t (id integer CHECK (id <> 2500), v text)');
    const [entry] = bigTableData(dumpDir, listing, 0);
    expect(entry).toBeDefined();
    const load = splitLoad(run, { dumpDir, entry: entry!, url: target, sessions, listFile: path.join(work, `fail-${sessions}.list`), pieceBytes: 4096 });
    await expect(load).rejects.toThrow(/violates check constraint/);
    expect((await $`pgrep -f -- ${`--use-list=${path.join(work, `fail-${sessions}.list`)}`}`.nothrow()).exitCode).toBe(1);
  }, 60_000);
});

describe('kill -9 in the middle of a split load', () => {
  it('leaves a restore that the same command, run again, finishes and verifies', async () => {
    const source = await createDatabase(stack.postgresUrl, 'split_kill');
    await query(source, `CREATE TABLE t (id integer PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('y', 50) || g FROM generate_series(1, 20000) g`);
    const env = stackEnv({ BACKUP_REPO: `file://${path.join(work, 'kill-repo')}`, TICKVAULT_SPLIT_LOAD_MIN_BYTES: '0', TICKVAULT_SPLIT_LOAD_PIECE_BYTES: '4096' });
    const backup = await runRunbook('backup', ['postgres', '--database-url', source, '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    const target = Object.assign(new URL(source), { pathname: `/split_killed_${Date.now()}` }).toString();
    const args = ['postgres', '--backup', backup.summary!.id as string, '--database-url', source, '--target-url', target, '--json', '--jobs', '2'];
    const killed = await runRunbook('restore', args, { env: { ...env, TICKVAULT_KILL_AT: 'restore-split-piece' } });
    expect(killed.summary, killed.stdout).toBeUndefined();
    expect(killed.code).toBe(-1); // killed by a signal: no exit code
    const n = (await query<{ n: string }>(target, 'SELECT count(*)::text AS n FROM t'))[0]!.n;
    expect(Number(n)).toBeGreaterThan(0); // a piece had loaded: the kill landed mid-table
    expect(Number(n)).toBeLessThan(20000);
    const again = await runRunbook('restore', args, { env });
    expect(again.code, again.stdout).toBe(0);
    expect(again.summary).toMatchObject({ resumed: true });
    expect(await rowHashes(target)).toEqual(await rowHashes(source));
  }, 120_000);
});

describe('a LATIN1 database', () => {
  it('backs up, and restores exactly into a LATIN1 database with every table forced through split-load: a non-ASCII table name goes whole through pg_restore, an ASCII one in pieces', async () => {
    const name = `split_latin1_${Date.now()}`;
    await query(stack.postgresUrl, `CREATE DATABASE ${name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    const source = Object.assign(new URL(stack.postgresUrl), { pathname: `/${name}` }).toString();
    await query(source, `CREATE TABLE "café" (id integer PRIMARY KEY, v text);
      INSERT INTO "café" SELECT g, 'crème brûlée ' || g FROM generate_series(1, 2000) g;
      CREATE TABLE plain (id integer PRIMARY KEY, v text);
      INSERT INTO plain SELECT g, 'über ' || g FROM generate_series(1, 2000) g`);
    const env = stackEnv({ BACKUP_REPO: `file://${path.join(work, 'repo')}` });
    const backup = await runRunbook('backup', ['postgres', '--database-url', source, '--json'], { env });
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    const restored = Object.assign(new URL(stack.postgresUrl), { pathname: `/${name}_restored` }).toString();
    const forced = { ...env, TICKVAULT_SPLIT_LOAD_MIN_BYTES: '0', TICKVAULT_SPLIT_LOAD_PIECE_BYTES: '1000' };
    const restore = await runRunbook('restore', ['postgres', '--backup', backup.summary!.id as string, '--database-url', source, '--target-url', restored, '--json', '--jobs', '2'], { env: forced });
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    const loads = restore.events.find((e) => e.event === 'end' && e.splitLoads)?.splitLoads as { entry: string; pieces: number; notSplittable?: string }[];
    // pg_restore --list prints the LATIN1 name's bytes as they are: find the entry as the other one.
    expect(loads.find((l) => !l.entry.includes('plain'))).toMatchObject({ pieces: 0, notSplittable: expect.stringMatching(/LATIN1 with non-ASCII/) });
    expect(loads.find((l) => l.entry.includes('plain'))!.pieces).toBeGreaterThan(5);
    expect(await rowHashes(restored)).toEqual(await rowHashes(source));
    const [made] = await query<{ encoding: string; collate: string }>(stack.postgresUrl, 'SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate FROM pg_database WHERE datname = $1', [`${name}_restored`]);
    expect(made).toEqual({ encoding: 'LATIN1', collate: 'C' });

    // An existing empty target in another encoding would convert the text: refused, untouched.
    const utf8 = await createDatabase(stack.postgresUrl, 'split_utf8');
    const refused = await runRunbook('restore', ['postgres', '--backup', backup.summary!.id as string, '--database-url', source, '--target-url', utf8, '--json'], { env });
    expect(refused.code, refused.stdout).toBe(4);
    expect(refused.events.find((e) => e.event === 'error')?.message).toMatch(/encoded UTF8, the backup's database LATIN1/);
    expect(await query(utf8, "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace")).toEqual([]);
  }, 120_000);
});
