import crypto from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { pgWorker, runPool, type PoolStats } from '../../runbooks/engine/pool';
import { createDatabase, query } from '../helpers/databases';

const stack = inject('stack');
let db: string;

beforeAll(async () => {
  db = await createDatabase(stack.postgresUrl, 'pool');
});

/** Backends of this test's database with the given application name (independent of the pool's bookkeeping). */
const backends = async (app: string) => Number((await query<{ n: string }>(db, 'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [app]))[0]!.n);

async function open(app: string): Promise<{ client: pg.Client }> {
  const client = new pg.Client({ connectionString: db, application_name: app });
  await client.connect();
  return { client };
}

describe('worker pool', () => {
  it('a failing worker stops the pool: no new work starts, running sibling queries are cancelled, every connection is released', async () => {
    const app = `pool-${crypto.randomBytes(3).toString('hex')}`;
    expect(await backends(app)).toBe(0);
    const items = ['sleep', 'sleep', 'fail', 'later-1', 'later-2', 'later-3'];
    const started: string[] = [];
    const siblingErrors: string[] = [];
    const stats: PoolStats = { started: 0, finished: 0 };
    const run = runPool(items, { workers: 3, open: () => open(app), ...pgWorker((w: { client: pg.Client }) => [w.client]) }, async (item, w) => {
      started.push(item);
      if (item === 'sleep') {
        try {
          await w.client.query('SELECT pg_sleep(600)');
        } catch (error) {
          siblingErrors.push((error as { code?: string }).code ?? String(error));
          throw error;
        }
        return item;
      }
      if (item === 'fail') {
        // Fail only once both siblings are inside their long query.
        while (Number((await w.client.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [app])).rows[0].n) < 2);
        throw new Error('boom in worker');
      }
      return item;
    }, stats);
    await expect(run).rejects.toThrow('boom in worker');
    expect(started.sort()).toEqual(['fail', 'sleep', 'sleep']);
    expect(stats).toEqual({ started: 3, finished: 0 });
    expect(siblingErrors).toEqual(['57014', '57014']); // query_canceled
    expect(await backends(app)).toBe(0);
  });

  it('a worker that cannot open its resources stops the pool and the others are closed', async () => {
    const app = `pool-${crypto.randomBytes(3).toString('hex')}`;
    let opened = 0;
    const run = runPool([1, 2, 3, 4], {
      workers: 3,
      open: async (i) => {
        if (i === 2) throw new Error('cannot connect worker 2');
        opened++;
        return open(app);
      },
      ...pgWorker((w: { client: pg.Client }) => [w.client]),
    }, async (n, w) => (await w.client.query('SELECT $1::int AS n', [n])).rows[0].n as number);
    await expect(run).rejects.toThrow('cannot connect worker 2');
    expect(opened).toBeGreaterThan(0);
    expect(await backends(app)).toBe(0);
  });

  it('returns results in item order when nothing fails', async () => {
    const app = `pool-${crypto.randomBytes(3).toString('hex')}`;
    const out = await runPool([5, 1, 4, 2, 3], { workers: 2, open: () => open(app), ...pgWorker((w: { client: pg.Client }) => [w.client]) }, async (n, w) => Number((await w.client.query('SELECT $1::int * 10 AS n', [n])).rows[0].n));
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(await backends(app)).toBe(0);
  });
});
