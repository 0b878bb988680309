import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { inTransaction, inTransactionRetrying } from '../../runbooks/engine/transaction';
import { createDatabase } from '../helpers/databases';

const stack = inject('stack');
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await createDatabase(stack.postgresUrl, 'txretry') });
  await client.connect();
  await client.query('CREATE TABLE t (v text)');
});
afterAll(() => client.end());

const rows = async () => (await client.query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows.map((r) => r.v);

describe('inTransactionRetrying', () => {
  it('inside a transaction, undoes only the failed attempt and keeps what came before', async () => {
    let calls = 0;
    await inTransaction(client, async () => {
      await client.query("INSERT INTO t VALUES ('before')");
      await inTransactionRetrying(client, async () => {
        calls++;
        await client.query('INSERT INTO t VALUES ($1)', [`attempt ${calls}`]);
        if (calls < 3) throw new Error('tuple concurrently deleted');
      }, /tuple concurrently deleted/);
    });
    expect(calls).toBe(3);
    expect(await rows()).toEqual(['attempt 3', 'before']);
  });

  it('does not retry an error that does not match, and gives up after its attempts', async () => {
    await client.query('TRUNCATE t');
    let calls = 0;
    const other = inTransactionRetrying(client, async () => (calls++, await client.query('SELECT 1/0')), /tuple concurrently/);
    await expect(other).rejects.toThrow(/division by zero/);
    expect(calls).toBe(1);
    calls = 0;
    const always = inTransactionRetrying(client, async () => {
      calls++;
      await client.query("INSERT INTO t VALUES ('lost')");
      throw new Error('tuple concurrently updated');
    }, /tuple concurrently/, 4);
    await expect(always).rejects.toThrow(/concurrently updated/);
    expect(calls).toBe(4);
    expect(await rows()).toEqual([]);
    expect((await client.query('SELECT 1 AS ok')).rows[0].ok).toBe(1); // the session is usable, not left in an aborted transaction
  });
});
