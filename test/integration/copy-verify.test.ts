import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { combinedHash, fingerprintTables } from '../../runbooks/stores/postgres/fingerprint';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const env = stackEnv();
let source: string;

async function tableHash(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return combinedHash(await fingerprintTables(client, [{ schema: 'public', name }]));
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  source = await createDatabase(stack.postgresUrl, 'copysrc');
  expect((await runRunbook('seed', ['--json', '--database-url', source, '--scale', '0.3'], { env })).code).toBe(0);
});

describe('copy-table and verify', () => {
  it('a copy killed with kill -9 mid-run resumes from its ledger to an identical hash', async () => {
    const target = await createDatabase(stack.postgresUrl, 'copydst');
    // Deterministic kill -9: the copy kills itself (SIGKILL) right after its second batch commits.
    const killed = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--all', '--table', 'public.tick_data', '--source-url', source, '--target-url', target, '--json', '--jobs', '1'], { env: { ...env, TICKVAULT_TEST_KILL_AFTER_BATCHES: '2' } });
    expect(killed.code).toBe(-1);
    const ledger = await query<{ done: string; total: string }>(target, "SELECT count(*) FILTER (WHERE state = 'done') AS done, count(*) AS total FROM tickvault.copy_batches");
    expect(Number(ledger[0]!.done)).toBeGreaterThan(0);
    expect(Number(ledger[0]!.done)).toBeLessThan(Number(ledger[0]!.total));
    const committed = (await query<{ n: string; r: string }>(target, "SELECT (SELECT count(*) FROM tick_data) AS n, (SELECT sum(rows) FROM tickvault.copy_batches WHERE state = 'done') AS r"))[0]!;
    expect(committed.n).toBe(committed.r); // nothing half-copied survives the kill

    const resumed = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--all', '--table', 'public.tick_data', '--source-url', source, '--target-url', target, '--json'], { env });
    expect(resumed.code, resumed.stdout).toBe(0);
    const backfill = resumed.events.find((e) => e.event === 'end' && String(e.step).startsWith('backfill'));
    expect(backfill).toMatchObject({ batchesResumed: Number(ledger[0]!.done), splitBy: 'id' });
    expect(await tableHash(target, 'tick_data')).toBe(await tableHash(source, 'tick_data'));
    expect(await query(target, "SELECT conname FROM pg_constraint WHERE conrelid = 'public.tick_data'::regclass AND contype = 'p'")).toEqual([{ conname: 'tick_data_pkey' }]);
    expect(await query(target, "SELECT indexname FROM pg_indexes WHERE tablename = 'tick_data' AND indexname = 'tick_data_symbol_ts_idx'")).toHaveLength(1);
  });

  it('verify.ts: equal tables exit 0; a planted difference is found and reported by key (exit 3)', async () => {
    const target = await createDatabase(stack.postgresUrl, 'verifydst');
    const copy = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--all', '--table', 'public.trades', '--source-url', source, '--target-url', target, '--json'], { env });
    expect(copy.code, copy.stdout).toBe(0);
    const verifyArgs = ['--source-url', source, '--target-url', target, '--table', 'public.trades', '--json'];
    expect((await runRunbook('verify', verifyArgs, { env })).code).toBe(0);

    const [changed, removed] = await query<{ id: string }>(target, 'SELECT id::text FROM trades ORDER BY id LIMIT 2');
    await query(target, 'UPDATE trades SET pnl = coalesce(pnl, 0) + 0.01 WHERE id = $1', [changed!.id]);
    await query(target, 'DELETE FROM trades WHERE id = $1', [removed!.id]);
    await query(target, "INSERT INTO trades SELECT gen_random_uuid(), user_id, symbol, side, quantity, entry_price, exit_price, opened_at, closed_at, pnl, status, notes FROM trades LIMIT 1");
    const diff = await runRunbook('verify', verifyArgs, { env });
    expect(diff.code).toBe(3);
    const kinds = Object.fromEntries((diff.summary!.differences as { key: string; kind: string }[]).map((d) => [d.key, d.kind]));
    expect(kinds[changed!.id]).toBe('changed');
    expect(kinds[removed!.id]).toBe('missing in target');
    expect(Object.values(kinds).filter((k) => k === 'extra in target')).toHaveLength(1);
  });

  it('normalises values: numeric scale and type width do not count as differences', async () => {
    const target = await createDatabase(stack.postgresUrl, 'normdst');
    await query(source, 'CREATE TABLE IF NOT EXISTS norm_src (id int PRIMARY KEY, price numeric(18,2), at timestamptz)');
    await query(source, "INSERT INTO norm_src VALUES (1, 1.50, '2026-01-01T10:00:00+02'), (2, NULL, NULL) ON CONFLICT DO NOTHING");
    await query(target, 'CREATE TABLE norm_src (id bigint PRIMARY KEY, price numeric(20,8), at timestamptz)');
    await query(target, "SET TIME ZONE 'America/New_York'; INSERT INTO norm_src VALUES (1, 1.5, '2026-01-01T08:00:00Z'), (2, NULL, NULL)");
    expect((await runRunbook('verify', ['--source-url', source, '--target-url', target, '--table', 'public.norm_src', '--json'], { env })).code).toBe(0);
  });

  it('refuses a target table that already holds rows (exit 4) and missing tables (exit 2)', async () => {
    const target = await createDatabase(stack.postgresUrl, 'busydst');
    await query(target, 'CREATE TABLE users (id uuid PRIMARY KEY, email text, display_name text, plan text, created_at timestamptz); INSERT INTO users VALUES (gen_random_uuid(), \'x\', \'x\', \'x\', now())');
    const refused = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--all', '--table', 'public.users', '--source-url', source, '--target-url', target, '--json'], { env });
    expect(refused.code).toBe(4);
    expect((await query<{ n: string }>(target, 'SELECT count(*) AS n FROM users'))[0]!.n).toBe('1');
    expect((await runRunbook('migrate', ['run', '--plan', 'copy-table', '--all', '--table', 'public.nope', '--source-url', source, '--target-url', target, '--json'], { env })).code).toBe(2);
    expect((await runRunbook('verify', ['--source-url', source, '--target-url', target, '--table', 'public.nope', '--json'], { env })).code).toBe(2);
  });
});
