import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LockHeldError } from './errors';
import { onThisHost, ownerGone, thisProcess, type Owner } from './owner';
import { lockDir, privateDir } from './paths';

export interface Lock {
  release(): Promise<void>;
}

interface LockRecord extends Owner {
  run: string;
  runbook?: string;
  target?: string;
  started: string;
  /** Until when the holder vouches for the lock; renewed while it runs. */
  leaseUntil?: string;
}

/** 63-bit key for pg_advisory_lock from a string. */
export function advisoryKey(name: string): bigint {
  const digest = crypto.createHash('sha256').update(name).digest();
  return digest.readBigInt64BE(0) & 0x7fffffffffffffffn;
}

const leaseMs = (): number => Number(process.env.TICKVAULT_LOCK_LEASE_MS ?? 300_000);

/**
 * A kernel lock (flock(2), through util-linux's `flock`) around the few
 * file operations that read, judge and replace a lock record. The kernel
 * drops it when the process dies, so a killed run never wedges the guard,
 * and two runs can never both judge the same stale record and both win.
 */
async function withGuard<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
  const child = spawn('flock', ['--exclusive', '--wait', '30', file, '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => reject(new Error(`could not take the lock guard ${file} (flock exit ${code}): ${err.trim()}`)));
  });
  try {
    return await fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}

function readRecord(file: string): LockRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockRecord;
  } catch {
    return undefined; // absent, or half-written by a killed run
  }
}

/** Stale: its process on this host is gone, or its lease expired. A lock of another host is never judged by pid. */
function isStale(held: LockRecord, now = Date.now()): boolean {
  if (onThisHost(held)) return ownerGone(held);
  return held.leaseUntil !== undefined && Date.parse(held.leaseUntil) < now;
}

function writeRecord(file: string, record: LockRecord): void {
  const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record), { flag: 'wx', mode: 0o600 });
  fs.renameSync(tmp, file);
}

export const lockFileFor = (target: string): string => path.join(lockDir(), `${crypto.createHash('sha256').update(target).digest('hex').slice(0, 24)}.lock`);

/**
 * A lock per target (not per runbook: backup, restore and prune of one
 * target exclude each other). A lock whose process on this host is gone
 * (kill -9) is stale and taken over atomically; a lock of another host is
 * taken over only once its lease has expired. The holder renews the lease.
 */
export async function acquireFileLock(runbook: string, target: string, runId: string): Promise<Lock> {
  const dir = lockDir();
  privateDir(dir);
  const file = lockFileFor(target);
  // Guards live beside the locks folder, so it holds lock records only.
  const guardDir = `${dir}-guards`;
  privateDir(guardDir);
  const guard = path.join(guardDir, path.basename(file));
  const record = (): LockRecord => ({ ...thisProcess(), run: runId, runbook, target, started, leaseUntil: new Date(Date.now() + leaseMs()).toISOString() });
  const started = new Date().toISOString();
  await withGuard(guard, () => {
    const held = readRecord(file);
    if (held && fs.existsSync(file) && !isStale(held)) {
      throw new LockHeldError(`another ${held.runbook ?? runbook} run (${held.run}, pid ${held.pid} on ${held.host}) holds the lock on ${target} since ${held.started}`, { holder: held });
    }
    writeRecord(file, record());
  });
  const mine = () => readRecord(file)?.run === runId;
  const renew = setInterval(() => {
    withGuard(guard, () => {
      if (mine()) writeRecord(file, record());
    }).catch(() => undefined);
  }, Math.max(1000, leaseMs() / 3));
  renew.unref();
  return {
    release: async () => {
      clearInterval(renew);
      await withGuard(guard, () => {
        if (mine()) fs.rmSync(file, { force: true });
      });
    },
  };
}

/**
 * Run fn while holding a kernel lock named `name` on this machine, waiting
 * (up to 30 s) for another holder: for short critical sections that must
 * queue rather than refuse (two env snapshots of one service).
 */
export async function withKernelLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = `${lockDir()}-guards`;
  privateDir(dir);
  return withGuard(path.join(dir, `${crypto.createHash('sha256').update(name).digest('hex').slice(0, 24)}.critical`), fn);
}
