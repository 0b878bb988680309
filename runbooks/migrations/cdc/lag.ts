import type pg from 'pg';
import { decode } from './pgoutput';
import { readProgress } from './progress';

/** At most this many pending messages are decoded to count a backlog (status must stay cheap). */
export const PENDING_SCAN_LIMIT = 50_000;

export interface Lag {
  capture: string;
  /**
   * WAL between the source's current position and what the target has
   * applied; 0 when no committed change of this capture is pending (WAL of
   * other databases then is the slot's retention, listed with the slots, not lag).
   */
  bytes: number;
  /** Age of the oldest source commit not yet applied (0 when none is pending; null when the slot was busy). */
  seconds: number | null;
  /** Row changes committed on the source and not applied yet (counted up to PENDING_SCAN_LIMIT messages; null when busy). */
  pendingChanges: number | null;
  /** The count stopped at PENDING_SCAN_LIMIT: there are more. */
  pendingCapped: boolean;
  appliedLsn: string | null;
  applied: { transactions: number; inserts: number; updates: number; deletes: number; truncates: number } | null;
  slotPresent: boolean;
}

/** The slot is in use by another session (a drain in flight): peeking it fails with object_in_use. */
const busy = (error: unknown) => (error as { code?: string }).code === '55006';

/**
 * Replication lag of one capture: bytes via pg_wal_lsn_diff, seconds from
 * the first pending commit, pending changes by decoding what the slot holds
 * (peek: nothing is consumed).
 */
export async function captureLag(source: pg.ClientBase, target: pg.ClientBase, capture: string): Promise<Lag> {
  const progress = await readProgress(target, capture);
  const slot = await source.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS bytes FROM pg_replication_slots WHERE slot_name = $1', [capture]);
  let seconds: number | null = 0;
  let pendingChanges: number | null = 0;
  let pendingCapped = false;
  if (slot.rows[0]) {
    try {
      const { rows } = await source.query<{ data: Buffer }>("SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, $3, 'proto_version', '1', 'publication_names', $2)", [capture, capture, PENDING_SCAN_LIMIT]);
      let first: Date | undefined;
      for (const { data } of rows) {
        const m = decode(data);
        if (m.tag === 'begin') first ??= m.commitTime;
        else if (m.tag === 'insert' || m.tag === 'update' || m.tag === 'delete' || m.tag === 'truncate') pendingChanges++;
      }
      pendingCapped = rows.length >= PENDING_SCAN_LIMIT;
      seconds = first ? Math.round(Math.max(0, (Date.now() - first.getTime()) / 1000) * 10) / 10 : 0;
    } catch (error) {
      if (!busy(error)) throw error;
      seconds = null;
      pendingChanges = null;
    }
  }
  const { lsn, lastCommit: _last, ...counts } = progress ?? { lsn: null, lastCommit: null };
  // Nothing of ours pending (and the slot not busy): the target has every committed change.
  const caughtUp = pendingChanges === 0;
  return {
    capture,
    bytes: caughtUp ? 0 : Number(slot.rows[0]?.bytes ?? 0),
    seconds,
    pendingChanges,
    pendingCapped,
    appliedLsn: lsn,
    applied: progress ? (counts as Lag['applied']) : null,
    slotPresent: Boolean(slot.rows[0]),
  };
}

/** A backlog smaller than this never raises the "lag grew" warning: noise, not a trend. */
export const LAG_GROWTH_FLOOR = 100;

/**
 * `watch`: did the backlog grow since the previous check? Counted in
 * pending changes (WAL bytes also move with other databases' writes, so
 * they would raise false alarms): it grew when it is at least half again
 * as large and larger by LAG_GROWTH_FLOOR changes. Flat or shrinking lag,
 * and an unknown one (slot busy), say nothing.
 */
export function lagGrew(previous: Pick<Lag, 'pendingChanges'> | undefined, current: Pick<Lag, 'pendingChanges'>): boolean {
  if (!previous || previous.pendingChanges === null || current.pendingChanges === null) return false;
  const grown = current.pendingChanges - previous.pendingChanges;
  return grown >= LAG_GROWTH_FLOOR && current.pendingChanges >= previous.pendingChanges * 1.5;
}
