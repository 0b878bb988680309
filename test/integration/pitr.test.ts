import fs from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';
import { requireTimescale } from '../helpers/timescale';
import { buildTimescaleFixture, timescaleFacts } from '../helpers/timescale-fixture';

const stack = inject('stack');
const ready = await requireTimescale(stack.postgresUrl, 'PITR with TimescaleDB');
const env = stackEnv();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function shipWal(url: string) {
  const [{ wal }] = (await query<{ wal: string }>(url, 'SELECT pg_walfile_name(pg_switch_wal()) AS wal')) as [{ wal: string }];
  for (let i = 0; i < 300; i++) {
    const [row] = await query<{ last: string | null }>(url, 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    if (row?.last && row.last >= wal) return;
    await sleep(100);
  }
  throw new Error('WAL not archived');
}

const withPassword = (masked: string) => {
  const url = new URL(masked);
  url.password = new URL(stack.postgresUrl).password;
  return url.toString();
};

// Each test backs up and restores a whole cluster: on a loaded 2-core machine one takes
// over two minutes, and a test cut short leaves its restore holding the repository lock.
describe('PostgreSQL physical backups and point-in-time recovery (pgBackRest)', { timeout: 300_000 }, () => {
  it('recovers to a timestamp: rows committed before it come back, rows after do not', async () => {
    const db = await createDatabase(stack.postgresUrl, 'pitr');
    await query(db, 'CREATE TABLE ledger (id int PRIMARY KEY, note text, at timestamptz DEFAULT now())');
    await query(db, "INSERT INTO ledger SELECT g, 'before backup' FROM generate_series(1, 500) g");
    const backup = await runRunbook('backup', ['postgres', '--kind', 'physical', '--json', '--database-url', db], { env });
    expect(backup.code, backup.stdout).toBe(0);
    await query(db, "INSERT INTO ledger SELECT g, 'after backup, before target' FROM generate_series(501, 800) g");
    await sleep(1100);
    const [{ at: target }] = (await query<{ at: Date }>(db, 'SELECT now() AS at')) as [{ at: Date }];
    await sleep(1100);
    await query(db, "INSERT INTO ledger SELECT g, 'after target' FROM generate_series(801, 900) g");
    await query(db, 'DELETE FROM ledger WHERE id <= 100');
    await shipWal(db);

    const restore = await runRunbook('restore', ['postgres', '--to-time', target.toISOString(), '--database-url', db, '--json'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    // RPO is measured from the recovery target, not from the newest row (which is older than the target).
    expect(restore.summary).toMatchObject({ kind: 'physical', objectives: { scenario: 'corruption', rpoMet: true }, recoveryPoint: { at: target.toISOString(), basis: 'recovery target time' } });
    // pgbackrest restore reports progress by bytes, monotonic, ending at 100 of 100.
    const progress = restore.events.filter((e) => e.event === 'progress' && String(e.step).startsWith('pgbackrest restore')) as { done: number; total: number }[];
    // The first event is parsed from pgBackRest's log (a file's running percentage), not the closing 100.
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[0]!.done).toBeLessThan(100);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
    expect(progress.at(-1)).toMatchObject({ done: 100, total: 100 });
    const restored = withPassword(restore.summary!.targetUrl as string);
    const rows = await query<{ n: string; min: number; max: number }>(restored, 'SELECT count(*) AS n, min(id) AS min, max(id) AS max FROM ledger');
    expect(rows[0]).toEqual({ n: '800', min: 1, max: 800 });

    // The restored cluster is registered with the local stack, and its artifacts are pgBackRest's own.
    const status = await runRunbook('local', ['status', '--json'], { env });
    const extra = Object.keys((status.summary as any).services).filter((k) => k.startsWith('postgres:restore-'));
    expect(extra.length).toBeGreaterThan(0);
    const config = path.join(stack.home, 'local', 'pgbackrest', 'pgbackrest.conf');
    const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    const info = JSON.parse((await $`${asUser} pgbackrest --config=${config} --stanza=local info --output=json`).stdout);
    const label = (backup.summary!.backups as { label: string }[])[0]!.label;
    expect(info[0].backup.map((b: { label: string }) => b.label)).toContain(label);
    const verify = await runRunbook('backup', ['verify', backup.summary!.id as string, '--json'], { env });
    expect(verify.code, verify.stdout).toBe(0);

    // How to connect is printed without the password, which sits in a 0600 file psql itself reads.
    const connect = restore.summary!.connect as { cluster: string; conninfo: string; passwordFile: string; hint: string };
    expect(connect.hint).not.toContain(new URL(stack.postgresUrl).password);
    expect(fs.statSync(connect.passwordFile).mode & 0o777).toBe(0o600);
    const psql = await $({ env: { ...process.env, PGPASSFILE: connect.passwordFile, PGPASSWORD: '' } })`psql ${connect.conninfo} -XAtc ${'SELECT count(*) FROM ledger'}`;
    expect(psql.stdout.trim()).toBe('800');

    // One restored cluster stops on its own; the stack and the other restores keep running.
    const name = `postgres:${connect.cluster}`;
    expect(extra).toContain(name);
    expect((await runRunbook('local', ['stop', 'postgres:no-such-restore', '--json'], { env })).code).toBe(2);
    const stop = await runRunbook('local', ['stop', name, '--json'], { env });
    expect(stop.code, stop.stdout).toBe(0);
    expect(stop.summary).toMatchObject({ stopped: name });
    const after = await runRunbook('local', ['status', '--json'], { env });
    expect(after.code, after.stdout).toBe(0);
    expect(Object.keys((after.summary as any).services)).not.toContain(name);
    expect(Object.keys((after.summary as any).services)).toEqual(expect.arrayContaining(['postgres', 'redis', 's3']));
    await expect(query(restored, 'SELECT 1')).rejects.toThrow();
  });

  it('--latest replays all archived WAL; the recovery point is the last replayed commit or the end of archived WAL, never older', async () => {
    const db = await createDatabase(stack.postgresUrl, 'latest');
    await query(db, 'CREATE TABLE quiet (id int PRIMARY KEY)');
    await query(db, 'INSERT INTO quiet SELECT generate_series(1, 10)');
    const backup = await runRunbook('backup', ['postgres', '--kind', 'physical', '--json', '--database-url', db], { env });
    expect(backup.code, backup.stdout).toBe(0);
    await query(db, 'INSERT INTO quiet VALUES (11)');
    const [{ committed }] = (await query<{ committed: Date }>(db, 'SELECT now() AS committed')) as [{ committed: Date }];
    await shipWal(db);
    const restore = await runRunbook('restore', ['postgres', '--latest', '--kind', 'physical', '--database-url', db, '--json', '--scenario', 'corruption'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    const point = restore.summary!.recoveryPoint as { at: string; basis: string };
    expect(point.basis).toMatch(/last replayed commit|end of archived WAL/);
    expect(Date.parse(point.at)).toBeGreaterThanOrEqual(committed.getTime() - 1000);
    expect(restore.summary).toMatchObject({ objectives: { rpoMet: true } });
    expect(await query(withPassword(restore.summary!.targetUrl as string), 'SELECT count(*)::int AS n FROM quiet')).toEqual([{ n: 11 }]);
  });

  it('refuses a time before the oldest backup (exit 2)', async () => {
    const restore = await runRunbook('restore', ['postgres', '--to-time', '2001-01-01T00:00:00Z', '--json'], { env });
    expect(restore.code).toBe(2);
  });

  it('refuses at once a time after the newest archived WAL, naming the window (exit 2, nothing restored)', async () => {
    const restores = path.join(stack.home, 'local', 'restores');
    const before = fs.existsSync(restores) ? fs.readdirSync(restores).length : 0;
    const later = new Date(Date.now() + 60_000).toISOString();
    const restore = await runRunbook('restore', ['postgres', '--to-time', later, '--json'], { env });
    expect(restore.code, restore.stdout).toBe(2);
    const error = restore.events.find((e) => e.event === 'error') as { message: string; hint: string };
    expect(error.message).toMatch(/is after the newest archived WAL .*the archive can recover from \S+Z to \S+Z/);
    expect(error.hint).toContain('pg_switch_wal()');
    expect(fs.existsSync(restores) ? fs.readdirSync(restores).length : 0).toBe(before);
  });

  it("fails with PostgreSQL's own message when recovery cannot reach its target, instead of waiting", async () => {
    const later = new Date(Date.now() + 60_000).toISOString();
    const restore = await runRunbook('restore', ['postgres', '--to-time', later, '--json'], { env: { ...env, TICKVAULT_TEST_SKIP_PITR_WINDOW: '1' }, timeoutMs: 90_000 });
    expect(restore.code, restore.stdout).toBe(1);
    const error = restore.events.find((e) => e.event === 'error') as { message: string; code: string };
    expect(error, restore.stdout + restore.stderr).toBeDefined();
    expect(error.code).toBe('TV_RECOVERY_FAILED');
    expect(error.message).toContain('recovery ended before configured recovery target was reached');
  });
});

describe.skipIf(!ready)('TimescaleDB physical backup and point-in-time recovery', { timeout: 300_000 }, () => {
  it('PITR brings back the hypertable, its compressed chunks, aggregates and jobs as of the target time', async () => {
    const env = stackEnv();
    const db = await createDatabase(stack.postgresUrl, 'ts_pitr');
    await buildTimescaleFixture(db, { days: 16, perDay: 100 });
    const backup = await runRunbook('backup', ['postgres', '--kind', 'physical', '--json', '--database-url', db], { env });
    expect(backup.code, backup.stdout.slice(-2000)).toBe(0);
    // After the backup, before the target: more ticks, one more compressed chunk, refreshed aggregates.
    await query(db, "INSERT INTO tick_data SELECT 100000 + g, 'ADA-USD', now() - interval '4 days' + g * interval '1 minute', 1, 1 FROM generate_series(1, 300) g");
    await query(db, "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('tick_data', older_than => interval '8 days') c");
    await query(db, "CALL refresh_continuous_aggregate('tick_ohlcv_1h', NULL, NULL)");
    const expected = await timescaleFacts(db);
    // RPO is measured from the newest tick; the incident is "just after" it.
    const [{ at: incident }] = (await query<{ at: Date }>(db, "SELECT max(ts) + interval '1 minute' AS at FROM tick_data")) as [{ at: Date }];
    await sleep(1100);
    const [{ at: target }] = (await query<{ at: Date }>(db, 'SELECT now() AS at')) as [{ at: Date }];
    await sleep(1100);
    // The incident: ticks deleted, aggregates refreshed over the hole, a policy removed.
    await query(db, "DELETE FROM tick_data WHERE symbol = 'BTC-USD'");
    await query(db, "CALL refresh_continuous_aggregate('tick_ohlcv_1h', NULL, NULL)");
    await query(db, "SELECT remove_continuous_aggregate_policy('tick_ohlcv_1d')");
    await query(db, 'SELECT pg_switch_wal()');
    const restore = await runRunbook('restore', ['postgres', '--to-time', target.toISOString(), '--database-url', db, '--json', '--incident-time', incident.toISOString()], { env });
    expect(restore.code, restore.stdout.slice(-2000)).toBe(0);
    const got = await timescaleFacts(withPassword(restore.summary!.targetUrl as string));
    expect(got).toEqual(expected);
    expect(Number(got.chunks.compressed)).toBeGreaterThan(0);
  }, 300_000);
});
