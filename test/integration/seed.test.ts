import { describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';

const stack = inject('stack');
const env = { TICKVAULT_HOME: stack.home };

describe('seed runbook', () => {
  it('same seed gives the same content hash; another seed does not', async () => {
    const [a, b, c] = await Promise.all([createDatabase(stack.postgresUrl), createDatabase(stack.postgresUrl), createDatabase(stack.postgresUrl)]);
    const runA = await runRunbook('seed', ['--json', '--database-url', a, '--scale', '0.01', '--seed', '11'], { env });
    const runB = await runRunbook('seed', ['--json', '--database-url', b, '--scale', '0.01', '--seed', '11'], { env });
    const runC = await runRunbook('seed', ['--json', '--database-url', c, '--scale', '0.01', '--seed', '12'], { env });
    for (const r of [runA, runB, runC]) expect(r.code, r.stderr).toBe(0);
    expect(runA.summary!.contentHash).toBe(runB.summary!.contentHash);
    expect(runC.summary!.contentHash).not.toBe(runA.summary!.contentHash);
    const [counts] = await query<{ users: string; trades: string }>(a, 'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM trades) AS trades');
    expect(counts).toEqual({ users: '2', trades: '10' });
  });

  it('refuses a target that already holds the tables (exit 4) and changes nothing', async () => {
    const url = await createDatabase(stack.postgresUrl);
    expect((await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01'], { env })).code).toBe(0);
    await query(url, 'DELETE FROM pattern_cache WHERE id > 5');
    const again = await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01'], { env });
    expect(again.code).toBe(4);
    expect(again.events.find((e) => e.event === 'error')).toMatchObject({ code: 'TV_REFUSED' });
    const rows = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM pattern_cache');
    expect(rows[0]?.n).toBe('5');
  });

  it('--reset without --yes off a terminal is refused; with --yes it reseeds', async () => {
    const url = await createDatabase(stack.postgresUrl);
    expect((await runRunbook('seed', ['--database-url', url, '--scale', '0.01'], { env })).code).toBe(0);
    await query(url, 'DELETE FROM users WHERE id NOT IN (SELECT user_id FROM trades UNION SELECT user_id FROM atge_trade_signals)');
    await query(url, 'DELETE FROM trades');
    expect((await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01', '--reset'], { env })).code).toBe(4);
    expect((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM trades'))[0]!.n).toBe('0');
    expect((await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01', '--reset', '--yes'], { env })).code).toBe(0);
    expect((await query<{ n: string }>(url, 'SELECT count(*) AS n FROM trades'))[0]!.n).toBe('10');
  });

  it('--dry-run connects and plans but creates nothing', async () => {
    const url = await createDatabase(stack.postgresUrl);
    const dry = await runRunbook('seed', ['--json', '--database-url', url, '--dry-run'], { env });
    expect(dry.code).toBe(0);
    expect(dry.events.filter((e) => e.event === 'plan').map((e) => e.step)).toContain('load through COPY');
    const tables = await query(url, "SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
    expect(tables).toHaveLength(0);
  });

  it('a wrong password is a config error (exit 2) that never prints the password', async () => {
    const url = new URL(stack.postgresUrl);
    url.password = 'Wr0ng-Pa55word';
    const bad = await runRunbook('seed', ['--json', '--database-url', url.toString()], { env });
    expect(bad.code).toBe(2);
    expect(bad.events.find((e) => e.event === 'error')).toMatchObject({ code: 'TV_CONFIG', message: expect.stringMatching(/authentication failed/) });
    expect(bad.stdout + bad.stderr).not.toContain('Wr0ng-Pa55word');
  });

  it('an unreachable server and a malformed URL are config errors (exit 2)', async () => {
    const refused = await runRunbook('seed', ['--json', '--database-url', 'postgres://u:p@127.0.0.1:1/x'], { env });
    expect(refused.code).toBe(2);
    const malformed = await runRunbook('seed', ['--json', '--database-url', 'mysql://nope'], { env });
    expect(malformed.code).toBe(2);
    expect(malformed.events.find((e) => e.event === 'error')?.message).toMatch(/DATABASE_URL: must be a URL/);
  });

  it('writes Redis market-snapshot keys when a Redis URL is given', async () => {
    const url = await createDatabase(stack.postgresUrl);
    const run = await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01', '--redis-url', stack.redisUrl], { env });
    expect(run.code).toBe(0);
    expect(run.summary!.redisKeys).toBeGreaterThan(100);
    expect(run.stdout).not.toContain(new URL(stack.redisUrl).password);
  });
});
