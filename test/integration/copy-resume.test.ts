import { beforeAll, describe, expect, inject, it } from 'vitest';
import { computeSplit } from '../../runbooks/migrations/copy/split';
import { describeTable } from '../../runbooks/migrations/copy/table-info';
import { withClient } from '../../runbooks/stores/postgres/connect';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const env = stackEnv();
let source: string;
let target: string;

/** Independent of tickvault: count and md5 over each row's name-keyed JSON, in plain SQL. */
async function rowHash(url: string, table: string): Promise<{ n: string; hash: string }> {
  return (await query<{ n: string; hash: string }>(url, `SELECT count(*)::text AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS hash FROM (SELECT md5(to_jsonb(t)::text) AS h FROM ${table} t) s`))[0]!;
}

const copyArgs = () => ['run', '--plan', 'copy-table', '--all', '--table', 'public.resume_items', '--source-url', source, '--target-url', target, '--json', '--jobs', '1'];

beforeAll(async () => {
  source = await createDatabase(stack.postgresUrl, 'resumesrc');
  target = await createDatabase(stack.postgresUrl, 'resumedst');
  await query(source, 'CREATE TABLE resume_parent (id int PRIMARY KEY); INSERT INTO resume_parent VALUES (1)');
  await query(source, "CREATE TABLE resume_items (id bigint PRIMARY KEY, note text NOT NULL, parent int DEFAULT 1 REFERENCES resume_parent); INSERT INTO resume_items SELECT g, 'n' || g FROM generate_series(1, 120000) g; ANALYZE resume_items");
});

describe('a resumed copy never re-splits', () => {
  it('killed after one batch, statistics changed, resumed: the stored split is used, no duplicate keys, equal hash', async () => {
    // Deterministic kill -9: the copy kills itself right after its first batch commits.
    const killed = await runRunbook('migrate', copyArgs(), { env: { ...env, TICKVAULT_TEST_KILL_AFTER_BATCHES: '1' } });
    expect(killed.code).toBe(-1); // died by signal
    const split = await query(target, "SELECT method, column_name, column_type, batches FROM tickvault.copy_splits WHERE target = 'public.resume_items'");
    expect(split).toEqual([{ method: 'key', column_name: 'id', column_type: 'bigint', batches: 4 }]);
    const ledger = await query<{ done: string; lo: string | null; hi: string | null }>(target, "SELECT state AS done, lo, hi FROM tickvault.copy_batches WHERE target = 'public.resume_items' ORDER BY batch");
    expect(ledger.map((b) => b.done)).toEqual(['done', 'pending', 'pending', 'pending']);
    const firstHi = Number(ledger[0]!.hi);

    // Change what a fresh split would see: most not-yet-copied rows go, the planner's estimate drops below the split threshold.
    await query(source, 'DELETE FROM resume_items WHERE id >= $1 AND id < 110000', [firstHi]);
    await query(source, 'ANALYZE resume_items');
    const fresh = await withClient(source, async (c) => computeSplit(c, await describeTable(c, { schema: 'public', name: 'resume_items' }), 1));
    expect(fresh.method).toBe('none'); // re-splitting now would copy the whole table into every pending batch

    const resumed = await runRunbook('migrate', copyArgs(), { env });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    const backfill = resumed.events.find((e) => e.event === 'end' && String(e.step).startsWith('backfill'));
    expect(backfill).toMatchObject({ batchesResumed: 1, splitBy: 'id', batches: 4 });
    // The summary names what the target did not get: the foreign key to a table that was not copied.
    expect(resumed.summary!.notCarried).toEqual([{ kind: 'foreign key', name: 'resume_items: resume_items_parent_fkey', reason: 'references public.resume_parent, which is not on the target (it was not copied)' }]);
    expect(await query(target, 'SELECT count(*) - count(DISTINCT id) AS dups FROM resume_items')).toEqual([{ dups: '0' }]);
    expect(await rowHash(target, 'resume_items')).toEqual(await rowHash(source, 'resume_items'));
  });
});
