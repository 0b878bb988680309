import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, inject, it } from 'vitest';
import { runCli } from '../../runbooks/engine/cli';
import { invokeRunbook, passwordsToEnv } from '../../runbooks/recovery/drill/invoke';
import { createDatabase, query } from '../helpers/databases';
import { startPrivateRedis } from '../helpers/private-redis';
import { runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const repo = () => `file://${fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'))}`;
const strip = (url: string) => {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), password };
};

describe('no password needs to be on a command line', () => {
  it('PostgreSQL URLs without a password take it from a .pgpass-style file (PGPASSFILE): backup and restore', async () => {
    const db = await createDatabase(stack.postgresUrl, 'nopass');
    await query(db, 'CREATE TABLE t (id int primary key, at timestamptz NOT NULL DEFAULT now()); INSERT INTO t (id) SELECT generate_series(1, 100)');
    const { url, password } = strip(db);
    const u = new URL(db);
    const pgpass = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tv-pgpass-')), 'pgpass');
    fs.writeFileSync(pgpass, `${u.hostname}:${u.port}:*:${decodeURIComponent(u.username)}:${password.replace(/[:\\]/g, '\\$&')}\n`, { mode: 0o600 });
    const env = stackEnv({ BACKUP_REPO: repo(), PGPASSFILE: pgpass, DATABASE_URL: '' });
    const backup = await runRunbook('backup', ['postgres', '--database-url', url, '--json'], { env });
    expect(backup.code, backup.stdout).toBe(0);
    const target = new URL(url);
    target.pathname = `${target.pathname}_restored`;
    const restore = await runRunbook('restore', ['postgres', '--latest', '--database-url', url, '--target-url', target.toString(), '--json'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    const restored = new URL(db);
    restored.pathname = target.pathname;
    expect(await query(restored.toString(), 'SELECT count(*)::int AS n FROM t')).toEqual([{ n: 100 }]);
  });

  it('Redis URLs without a password take it from REDISCLI_AUTH', async () => {
    const redis = await startPrivateRedis(50);
    try {
      const { url, password } = strip(redis.url);
      const env = stackEnv({ BACKUP_REPO: repo(), REDIS_URL: '' });
      const without = await runRunbook('backup', ['redis', '--redis-url', url, '--json'], { env });
      expect(without.code).toBe(2);
      const backup = await runRunbook('backup', ['redis', '--redis-url', url, '--json'], { env: { ...env, REDISCLI_AUTH: password } });
      expect(backup.code, backup.stdout).toBe(0);
      expect(backup.summary!.backups).toMatchObject([{ store: 'redis' }]);
    } finally {
      await redis.stop();
    }
  });

  it('the drill and rehearsals put no password in a child process argv', async () => {
    expect(passwordsToEnv(['--source-url', 'postgres://u:p%40ss@h/db', '--redis-url', 'redis://default:r3dis@h:1'])).toEqual({
      args: ['--source-url', 'postgres://u@h/db', '--redis-url', 'redis://default@h:1'],
      env: { PGPASSWORD: 'p@ss', REDISCLI_AUTH: 'r3dis' },
    });
    const db = await createDatabase(stack.postgresUrl, 'drillargv');
    await query(db, 'CREATE TABLE t (id int primary key, at timestamptz NOT NULL DEFAULT now()); INSERT INTO t (id) VALUES (1)');
    const out = await invokeRunbook('backup', ['postgres', '--database-url', db], stackEnv({ BACKUP_REPO: repo() }));
    expect(out.exitCode).toBe(0);
    expect(out.args.join(' ')).not.toContain(new URL(db).password);
  });

  it('the local S3 server does not run as root', () => {
    const pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    const s3 = pids.filter((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmd.includes('s3rver-main') && cmd.includes(stack.home);
      } catch {
        return false;
      }
    });
    expect(s3).toHaveLength(1);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${s3[0]}/status`, 'utf8'))![1]);
    expect(uid).not.toBe(0);
  });

  it('flag values such as --key are not masked as secrets; --api-key is', async () => {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await runCli(
      {
        runbook: 'flagdemo',
        usage: 'flagdemo',
        audit: false,
        options: { key: { type: 'string' }, 'api-key': { type: 'string' } },
        async main({ run, flags }) {
          run.info(`key=${String(flags.key)} api=${String(flags['api-key'])}`);
        },
      },
      { argv: ['--key', 'trade_id', '--api-key', 'sk-live-123456', '--json'], stdout, stderr: new PassThrough(), env: { TICKVAULT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'tv-flag-')) } },
    );
    expect(code).toBe(0);
    expect(out).toContain('key=trade_id');
    expect(out).not.toContain('sk-live-123456');
  });
});
