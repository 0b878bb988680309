import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
