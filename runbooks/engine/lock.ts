import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { LockHeldError } from './errors';
import { lockDir } from './paths';

export interface Lock {
  release(): Promise<void>;
}

interface LockRecord {
  pid: number;
  host: string;
  run: string;
  started: string;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** 63-bit key for pg_advisory_lock from a string. */
export function advisoryKey(name: string): bigint {
  const digest = crypto.createHash('sha256').update(name).digest();
  return digest.readBigInt64BE(0) & 0x7fffffffffffffffn;
}

/**
 * A lock file per (runbook, target) on this machine. A lock whose process is
 * gone (kill -9) is stale and taken over, so an interrupted run never wedges
 * the next one.
 */
export function acquireFileLock(runbook: string, target: string, runId: string): Lock {
  const dir = lockDir();
  fs.mkdirSync(dir, { recursive: true });
  const digest = crypto.createHash('sha256').update(target).digest('hex').slice(0, 16);
  const file = path.join(dir, `${runbook}-${digest}.lock`);
  const record: LockRecord = { pid: process.pid, host: os.hostname(), run: runId, started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(record), { flag: 'wx', mode: 0o600 });
      return {
        release: async () => {
          try {
            const held = JSON.parse(fs.readFileSync(file, 'utf8')) as LockRecord;
            if (held.run === runId) fs.unlinkSync(file);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let held: LockRecord | undefined;
      try {
        held = JSON.parse(fs.readFileSync(file, 'utf8')) as LockRecord;
      } catch {
        held = undefined; // half-written by a killed run: stale
      }
      if (held && held.host === os.hostname() && alive(held.pid)) {
        throw new LockHeldError(`another ${runbook} run (${held.run}, pid ${held.pid}) holds the lock on this target since ${held.started}`, {
          holder: held,
        });
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new LockHeldError(`could not take the ${runbook} lock on this target`);
}

/**
 * A session-level advisory lock in PostgreSQL: it protects a target across
 * machines and is released by the server if the holder dies.
 */
export async function acquirePgLock(databaseUrl: string, name: string): Promise<Lock> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'tickvault-lock' });
  await client.connect();
  client.on('error', () => undefined);
  const key = advisoryKey(name).toString();
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
  if (!rows[0]?.ok) {
    await client.end();
    throw new LockHeldError(`another run holds the advisory lock "${name}" on this database`);
  }
  return {
    release: async () => {
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
