import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { TickvaultError } from '../../engine/errors';
import { lsnBytes } from './pitr-window';

/** Recovery stopped with PostgreSQL's own reason (a target the WAL cannot reach, a missing segment). */
export class RecoveryFailedError extends TickvaultError {
  override readonly code = 'TV_RECOVERY_FAILED';
}

export interface RecoveryWatchOptions {
  url: string;
  dataDir: string;
  logFile: string;
  /** Byte position that replay must reach (end of the archive or of the backup), for progress. */
  endLsn?: bigint;
  progress?(done: number, total: number, unit: string): void;
  /** Give up after this long with no replay progress at all. */
  stallMs?: number;
}

// A server process's own FATAL/PANIC (no user@db before it): client sessions
// refused during start-up ("the database system is starting up") carry user@db.
const FATAL = /\]\s+(FATAL|PANIC):\s+(.*)$/m;

/** Lines PostgreSQL appended to its log since `offset`. */
function readFrom(file: string, offset: number): { text: string; offset: number } {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return { text: '', offset };
      const buffer = Buffer.alloc(size - offset);
      fs.readSync(fd, buffer, 0, buffer.length, offset);
      return { text: buffer.toString('utf8'), offset: size };
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { text: '', offset };
  }
}

/**
 * A server that fails recovery within its first second makes `pg_ctl start`
 * itself fail, before any watch begins: its output carries PostgreSQL's FATAL
 * line, which is the same verdict the watch gives.
 */
export function asRecoveryFailure(error: unknown, dataDir: string): unknown {
  const fatal = FATAL.exec((error as Error)?.message ?? '');
  if (!fatal) return error;
  return new RecoveryFailedError(`the restored server stopped recovery: ${fatal[2]!.trim()}`, { hint: `PostgreSQL's log is beside the restored cluster's data folder ${dataDir}` });
}

/**
 * Wait until the restored server has finished recovery and been promoted,
 * failing within a poll of PostgreSQL logging FATAL/PANIC or its process
 * exiting, with PostgreSQL's message. Reports WAL replay as progress.
 */
export async function waitForPromotion(opts: RecoveryWatchOptions): Promise<{ replayedLsn?: string; lastReplayedCommit?: Date }> {
  let offset = 0;
  let startLsn: bigint | undefined;
  let lastLsn: bigint | undefined;
  let lastMove = Date.now();
  const stallMs = opts.stallMs ?? 300_000;
  for (;;) {
    const appended = readFrom(opts.logFile, offset);
    offset = appended.offset;
    const fatal = FATAL.exec(appended.text);
    if (fatal) {
      throw new RecoveryFailedError(`the restored server stopped recovery: ${fatal[2]!.trim()}`, {
        hint: `PostgreSQL's log: ${opts.logFile}`,
      });
    }
    if (!fs.existsSync(path.join(opts.dataDir, 'postmaster.pid'))) {
      const tail = readFrom(opts.logFile, Math.max(0, offset - 2000)).text.trim().split('\n').slice(-3).join(' | ');
      throw new RecoveryFailedError(`the restored server exited during recovery: ${tail || 'no log output'}`, { hint: `PostgreSQL's log: ${opts.logFile}` });
    }
    const state = await probe(opts.url);
    if (state?.promoted) return { replayedLsn: state.lsn, lastReplayedCommit: state.lastCommit };
    if (state?.lsn) {
      const at = lsnBytes(state.lsn);
      startLsn ??= at;
      if (at !== lastLsn) [lastLsn, lastMove] = [at, Date.now()];
      if (opts.endLsn && opts.endLsn > startLsn) opts.progress?.(Number(at - startLsn), Number(opts.endLsn - startLsn), 'bytes of WAL');
    }
    if (Date.now() - lastMove > stallMs) throw new RecoveryFailedError(`WAL replay made no progress for ${Math.round(stallMs / 1000)} s`, { hint: `PostgreSQL's log: ${opts.logFile}` });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function probe(url: string): Promise<{ promoted: boolean; lsn?: string; lastCommit?: Date } | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined); // a server shutting down mid-probe must not crash the run
  try {
    await client.connect();
    const { rows } = await client.query<{ r: boolean; lsn: string | null; t: Date | null }>(
      'SELECT pg_is_in_recovery() AS r, pg_last_wal_replay_lsn()::text AS lsn, pg_last_xact_replay_timestamp() AS t',
    );
    const row = rows[0]!;
    return { promoted: !row.r, lsn: row.lsn ?? undefined, lastCommit: row.t ?? undefined };
  } catch {
    return undefined; // not accepting connections yet (before consistency)
  } finally {
    await client.end().catch(() => undefined);
  }
}
