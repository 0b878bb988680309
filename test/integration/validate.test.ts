import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addCollection, startQdrantDouble, type QdrantDouble } from '../doubles/qdrant-http-double';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const env = stackEnv();
let url: string;
let qdrant: QdrantDouble; // labelled HTTP double of Qdrant (test/doubles)

beforeAll(async () => {
  url = await createDatabase(stack.postgresUrl, 'val');
  expect((await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01', '--end', 'now'], { env })).code).toBe(0);
  qdrant = await startQdrantDouble();
});
afterAll(async () => {
  // validate.ts's requests (GET /, POST …/points/count) conform to Qdrant's OpenAPI document.
  expect(qdrant.violations).toEqual([]);
  expect(qdrant.operations).toContain('count_points');
  await qdrant.close();
});

const verdicts = (summary: Record<string, unknown>) => Object.fromEntries((summary.checks as { name: string; verdict: string }[]).map((c) => [c.name, c.verdict]));

describe('validate.ts', () => {
  it('fresh data, sound keys, DXY in range, embeddings covering every trade: no FAIL', async () => {
    const [{ n }] = (await query<{ n: string }>(url, 'SELECT count(*) AS n FROM trades')) as [{ n: string }];
    addCollection(qdrant, 'trades', Number(n));
    const run = await runRunbook('validate', ['--database-url', url, '--source-url', url, '--json'], { env: { ...env, QDRANT_URL: qdrant.url } });
    expect(run.code, run.stdout).toBe(0);
    expect(verdicts(run.summary!)).toMatchObject({ 'DXY 1m freshness': 'PASS', 'trades → users': 'PASS', 'DXY in 80-120 (derived_data_bars)': 'PASS', 'trades embedding coverage': 'PASS', 'public.trades count vs source': 'PASS' });
  });

  it('orphaned rows, stale data and missing embeddings FAIL (exit 3)', async () => {
    const bad = await createDatabase(stack.postgresUrl, 'valbad');
    expect((await runRunbook('seed', ['--json', '--database-url', bad, '--scale', '0.01'], { env })).code).toBe(0);
    await query(bad, 'ALTER TABLE trades DROP CONSTRAINT trades_user_id_fkey');
    await query(bad, "UPDATE trades SET user_id = gen_random_uuid() WHERE id = (SELECT id FROM trades LIMIT 1)");
    await query(bad, 'ALTER TABLE trades ADD CONSTRAINT trades_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID');
    addCollection(qdrant, 'trades', 3);
    const run = await runRunbook('validate', ['--database-url', bad, '--json'], { env: { ...env, QDRANT_URL: qdrant.url } });
    expect(run.code).toBe(3);
    expect(verdicts(run.summary!)).toMatchObject({ 'trades → users': 'FAIL', 'DXY 1m freshness': 'FAIL', 'trades embedding coverage': 'FAIL' });
  });
});

describe('migrations take and restore an env snapshot', () => {
  it('the backup phase seals --env-from; rollback writes it back byte for byte', async () => {
    const db = await createDatabase(stack.postgresUrl, 'envmig');
    expect((await runRunbook('seed', ['--json', '--database-url', db, '--scale', '0.01'], { env })).code).toBe(0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-envmig-'));
    const dotenv = path.join(dir, '.env');
    const original = '# scanner\nDATABASE_URL=postgres://scanner:Sc4nner-Secret@db/app\nUSE_SSOT=false\n';
    fs.writeFileSync(dotenv, original);
    const menv = { ...env, BACKUP_REPO: `file://${path.join(dir, 'repo')}`, TICKVAULT_ENV_KEY_FILE: path.join(dir, 'vault.key') };
    const args = ['run', '--plan', 'market-snapshot-ssot', '--target-url', db, '--json', '--env-from', `dotenv:${dotenv}`, '--env-service', 'scanner'];
    for (const phase of ['preflight', 'backup', 'expand']) expect((await runRunbook('migrate', [...args, '--phase', phase], { env: menv })).code).toBe(0);
    fs.writeFileSync(dotenv, original.replace('USE_SSOT=false', 'USE_SSOT=true'));
    const rollback = await runRunbook('migrate', ['rollback', '--plan', 'market-snapshot-ssot', '--target-url', db, '--json', '--yes'], { env: menv });
    expect(rollback.code, rollback.stdout).toBe(0);
    expect(fs.readFileSync(dotenv, 'utf8')).toBe(original);
    expect(rollback.stdout + fs.readFileSync(path.join(dir, 'repo', 'env', 'scanner', fs.readdirSync(path.join(dir, 'repo', 'env', 'scanner'))[0]!), 'utf8')).not.toContain('Sc4nner-Secret');
  });
});
