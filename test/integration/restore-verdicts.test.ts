import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fileRepositoryKey, signRecord } from '../../runbooks/repository/signing';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/**
 * The restore's verdict must be able to fail, on the path that hashes tables
 * while their data loads: a backup whose authentic (re-signed) manifest
 * disagrees with its dump by one row count, one content hash or one table
 * is refused with exit 3 naming the table; the same backup untouched
 * restores with exit 0. Every table is forced through the split load, and
 * one is a hypertable, so each kind of early hashing is on the path.
 */
const stack = inject('stack');
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-verdicts-'));
const env = stackEnv({ BACKUP_REPO: `file://${repoDir}`, TICKVAULT_SPLIT_LOAD_MIN_BYTES: '0', TICKVAULT_SPLIT_LOAD_PIECE_BYTES: '4096' });
let source: string;
let id: string;

const manifestFile = () => path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', id, 'manifest.json');
const signed = (m: Record<string, unknown>) => signRecord(fileRepositoryKey(path.join(stack.home, 'repository.key')), m);

beforeAll(async () => {
  source = await createDatabase(stack.postgresUrl, 'verdict');
  for (const sql of [
    'CREATE EXTENSION IF NOT EXISTS timescaledb',
    "CREATE TABLE a AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g",
    "CREATE TABLE b AS SELECT g AS id, g * 1.5 AS x FROM generate_series(1, 2000) g",
    'CREATE TABLE ticks (ts timestamptz NOT NULL, v int)',
    "SELECT create_hypertable('ticks', 'ts', chunk_time_interval => interval '1 day')",
    "INSERT INTO ticks SELECT timestamptz '2025-01-01' + g * interval '1 minute', g FROM generate_series(0, 4319) g",
  ])
    await query(source, sql);
  const backup = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
  expect(backup.code, backup.stdout + backup.stderr).toBe(0);
  id = backup.summary!.id as string;
}, 120_000);

async function restoreWith(change: (m: Record<string, any>) => void) {
  const original = fs.readFileSync(manifestFile(), 'utf8');
  const m = JSON.parse(original);
  change(m);
  fs.writeFileSync(manifestFile(), JSON.stringify(signed(m)));
  try {
    const target = new URL(source);
    target.pathname = `/verdict_${Date.now()}`;
    return await runRunbook('restore', ['postgres', '--backup', id, '--target-url', target.toString(), '--json'], { env });
  } finally {
    fs.writeFileSync(manifestFile(), original);
  }
}

const errorOf = (r: Awaited<ReturnType<typeof restoreWith>>) => r.events.find((e) => e.event === 'error')?.message as string | undefined;
const table = (m: Record<string, any>, name: string) => (m.tables as { table: string; rows: number; hash: string }[]).find((t) => t.table === name)!;

describe('restore verdicts hold with hashing while loading', () => {
  it('the backup as made restores and verifies (exit 0), with tables hashed during the load', async () => {
    const r = await restoreWith(() => undefined);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const step = r.events.find((e) => e.event === 'end' && String(e.step).includes('verify row counts'));
    expect((step?.hashedWhileLoading as { parts: number } | undefined)?.parts).toBeGreaterThan(0);
  });

  it('one row count off: exit 3 naming the table', async () => {
    const r = await restoreWith((m) => (table(m, 'public.a').rows += 1));
    expect(r.code).toBe(3);
    expect(errorOf(r)).toMatch(/public\.a: 3000 rows, backup had 3001/);
  });

  it('one content hash off (the hypertable): exit 3 naming it', async () => {
    const r = await restoreWith((m) => (table(m, 'public.ticks').hash = String(BigInt(table(m, 'public.ticks').hash) + 1n)));
    expect(r.code).toBe(3);
    expect(errorOf(r)).toMatch(/public\.ticks: content hash differs/);
  });

  it('a table the backup lists but the dump lacks: exit 3, missing', async () => {
    const r = await restoreWith((m) => m.tables.push({ ...table(m, 'public.b'), table: 'public.ghost' }));
    expect(r.code).toBe(3);
    expect(errorOf(r)).toMatch(/public\.ghost: missing/);
  });
});
