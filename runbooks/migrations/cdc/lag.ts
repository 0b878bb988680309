import type pg from 'pg';
import { decode } from './pgoutput';
import { readProgress } from './progress';

export interface Lag {
  capture: string;
  /** WAL between the source's current position and what the target has applied. */
  bytes: number;
  /** Age of the oldest source commit not yet applied (0 when none is pending). */
  seconds: number;
  appliedLsn: string | null;
  applied: { transactions: number; inserts: number; updates: number; deletes: number; truncates: number } | null;
  slotPresent: boolean;
}

/** Replication lag of one capture: bytes via pg_wal_lsn_diff, seconds from the first pending commit. */
export async function captureLag(source: pg.ClientBase, target: pg.ClientBase, capture: string): Promise<Lag> {
  const progress = await readProgress(target, capture);
  const slot = await source.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS bytes FROM pg_replication_slots WHERE slot_name = $1', [capture]);
  let seconds = 0;
  if (slot.rows[0]) {
    // One pending transaction at most (the limit is checked at commit); its begin carries the commit time.
    const { rows } = await source.query<{ data: Buffer }>("SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, 1, 'proto_version', '1', 'publication_names', $2)", [capture, capture]);
    for (const { data } of rows) {
      const m = decode(data);
      if (m.tag === 'begin') {
        seconds = Math.max(0, (Date.now() - m.commitTime.getTime()) / 1000);
        break;
      }
    }
  }
  const { lsn, lastCommit: _last, ...counts } = progress ?? { lsn: null, lastCommit: null };
  return {
    capture,
    bytes: Number(slot.rows[0]?.bytes ?? 0),
    seconds: Math.round(seconds * 10) / 10,
    appliedLsn: lsn,
    applied: progress ? (counts as Lag['applied']) : null,
    slotPresent: Boolean(slot.rows[0]),
  };
}
