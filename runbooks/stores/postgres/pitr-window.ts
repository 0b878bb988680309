import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { formatMs } from '../../engine/format';
import type { PgBackRestInfo, PgBackRestTarget } from './pgbackrest';

/** The times a point-in-time restore can reach: from the oldest backup's end to the newest archived WAL. */
export interface PitrWindow {
  oldest: Date;
  /** undefined when nothing tells us (an S3 repository with the source down). */
  newest?: Date;
  /** Where `newest` came from. */
  newestFrom?: 'source pg_stat_archiver' | 'repository WAL file time';
}

/** WAL segment name (timeline, log, segment) → the LSN just past its end, as a byte position. */
export function segmentEndLsn(segment: string, segmentBytes = 16 * 1024 * 1024): bigint {
  if (!/^[0-9A-F]{24}$/i.test(segment)) throw new Error(`not a WAL segment name: ${segment}`);
  const log = BigInt(`0x${segment.slice(8, 16)}`);
  const seg = BigInt(`0x${segment.slice(16, 24)}`);
  return (log << 32n) + (seg + 1n) * BigInt(segmentBytes);
}

/** "16/B374D848" → byte position. */
export const lsnBytes = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};

function repoPathOf(configFile: string): { type: string; path?: string } {
  const text = fs.readFileSync(configFile, 'utf8');
  const value = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm').exec(text)?.[1]?.trim();
  return { type: value('repo1-type') ?? 'posix', path: value('repo1-path') };
}

/** Modification time of the newest archived WAL file in a posix repository. */
function newestArchivedFile(target: PgBackRestTarget, archiveId: string): Date | undefined {
  const repo = repoPathOf(target.configFile);
  if (repo.type !== 'posix' || !repo.path) return undefined;
  const dir = path.join(repo.path, 'archive', target.stanza, archiveId);
  let newest = 0;
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/^[0-9A-F]{24}-/.test(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  try {
    walk(dir);
  } catch {
    return undefined;
  }
  return newest ? new Date(newest) : undefined;
}

/** The source's own word on when it last archived a segment (it may be down: then undefined). */
async function lastArchivedAtSource(sourceUrl: string | undefined): Promise<Date | undefined> {
  if (!sourceUrl) return undefined;
  const client = new pg.Client({ connectionString: sourceUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined); // a server shutting down mid-probe must not crash the run
  try {
    await client.connect();
    const { rows } = await client.query<{ t: Date | null }>('SELECT last_archived_time AS t FROM pg_stat_archiver');
    return rows[0]?.t ?? undefined;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function pitrWindow(target: PgBackRestTarget, info: PgBackRestInfo, sourceUrl?: string): Promise<PitrWindow> {
  const first = info.backup[0];
  if (!first) throw new ConfigError(`stanza "${target.stanza}" has no backups to restore`);
  const oldest = new Date(first.timestamp.stop * 1000);
  const fromSource = await lastArchivedAtSource(sourceUrl);
  if (fromSource) return { oldest, newest: fromSource, newestFrom: 'source pg_stat_archiver' };
  const archiveId = info.archive.at(-1)?.id;
  const fromRepo = archiveId ? newestArchivedFile(target, archiveId) : undefined;
  return fromRepo ? { oldest, newest: fromRepo, newestFrom: 'repository WAL file time' } : { oldest };
}

/**
 * Refuse at once (exit 2, nothing touched) a target time outside the window,
 * saying what the window is and what to do, instead of replaying WAL for
 * minutes towards a time the archive cannot reach.
 */
export function checkTargetTime(toTime: Date, window: PitrWindow, now = new Date()): void {
  const span = `the archive can recover from ${window.oldest.toISOString()} to ${window.newest?.toISOString() ?? '(newest archived WAL unknown)'}`;
  if (toTime.getTime() < window.oldest.getTime()) {
    throw new ConfigError(`--to-time ${toTime.toISOString()} is before the oldest backup finished: ${span}`, {
      hint: 'choose a later time, or restore an older backup copy of the repository',
    });
  }
  if (window.newest && toTime.getTime() > window.newest.getTime()) {
    const behind = formatMs(now.getTime() - window.newest.getTime());
    throw new ConfigError(`--to-time ${toTime.toISOString()} is after the newest archived WAL (${window.newestFrom}): ${span}`, {
      hint: `WAL for that time is not archived yet (${behind} behind now). Wait for archive_timeout, or run SELECT pg_switch_wal() on the source, or choose a time up to ${window.newest.toISOString()} (or --latest)`,
    });
  }
}
