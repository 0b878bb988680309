import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const env = stackEnv();
let good: string;

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

beforeAll(async () => {
  good = await createDatabase(stack.postgresUrl, 'conn');
  await query(good, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
});

// One side connects, the other is refused: the command must end with exit 2, not hang
// on the open connection of the side that worked (a SIGKILL at the timeout fails the test).
describe('a command with one of two databases unreachable', () => {
  it('verify: wrong password for the source → exit 2 naming --source-url, and the process ends', async () => {
    const out = await runRunbook('verify', ['--source-url', withPassword(good, 'wrong-password'), '--target-url', good, '--table', 'public.t', '--json'], { env, timeoutMs: 30_000 });
    expect(out.code, out.stdout).toBe(2);
    expect(JSON.stringify(out.events.at(-1))).toContain('--source-url: authentication failed');
  });

  it('verify: the target demands SSL the server does not offer → exit 2 naming --target-url, and the process ends', async () => {
    const out = await runRunbook('verify', ['--source-url', good, '--target-url', `${good}?sslmode=require`, '--table', 'public.t', '--json'], { env, timeoutMs: 30_000 });
    expect(out.code, out.stdout).toBe(2);
    expect(JSON.stringify(out.events.at(-1))).toContain('--target-url: cannot connect');
  });
});
