import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { copyAcross } from '../../runbooks/migrations/copy/cross-database';
import { createDatabase, query } from '../helpers/databases';

const stack = inject('stack');
let source: string;
let target: string;

const copyBackends = async () => Number((await query<{ n: string }>(target, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'tickvault%'"))[0]!.n);

beforeAll(async () => {
  source = await createDatabase(stack.postgresUrl, 'poolsrc');
  target = await createDatabase(stack.postgresUrl, 'pooldst');
  await query(source, 'CREATE TABLE pooled (id bigint PRIMARY KEY, v text)');
  await query(source, "INSERT INTO pooled SELECT g, 'v' || g FROM generate_series(1, 120000) g");
  await query(source, 'ANALYZE pooled');
});

describe('copy workers share one pool', () => {
  it('the first failed batch stops the copy: the blocked sibling is cancelled, later batches never start, no connection is left', async () => {
    // The target rejects the first batch's rows; the second batch will block on a row this test holds locked.
    await query(target, 'CREATE TABLE pooled (id bigint PRIMARY KEY CHECK (id > 100), v text)');
    const blocker = new pg.Client({ connectionString: target });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query("INSERT INTO pooled VALUES (20000, 'held')");
      const before = await copyBackends();
      await expect(copyAcross({ plan: 'pool-test', sourceUrl: source, targetUrl: target, source: { schema: 'public', name: 'pooled' }, target: { schema: 'public', name: 'pooled' }, jobs: 2, schema: 'simple' })).rejects.toThrow(/pooled_id_check/);
      const states = await query<{ state: string; n: string }>(target, "SELECT state, count(*)::text AS n FROM tickvault.copy_batches WHERE plan = 'pool-test' GROUP BY state");
      expect(states).toEqual([{ state: 'pending', n: '8' }]); // nothing committed: batch 2 was cancelled, 3–8 never began
      expect(await copyBackends()).toBe(before);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }
  });
});
