import type pg from 'pg';

/**
 * The applied position of a capture, kept on the target and written in the
 * same transaction as the changes it covers: after a kill -9 the stream
 * resumes from here, skipping transactions already applied (exactly once).
 */
const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tickvault;
CREATE TABLE IF NOT EXISTS tickvault.cdc_progress (
  capture text PRIMARY KEY,
  lsn pg_lsn NOT NULL,
  transactions bigint NOT NULL DEFAULT 0,
  inserts bigint NOT NULL DEFAULT 0,
  updates bigint NOT NULL DEFAULT 0,
  deletes bigint NOT NULL DEFAULT 0,
  truncates bigint NOT NULL DEFAULT 0,
  last_commit timestamptz,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);`;

export interface Progress {
  lsn: string;
  transactions: number;
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
  lastCommit: Date | null;
}

export interface Counts {
  transactions: number;
  inserts: number;
  updates: number;
  deletes: number;
  truncates: number;
}

export const zeroCounts = (): Counts => ({ transactions: 0, inserts: 0, updates: 0, deletes: 0, truncates: 0 });

export async function ensureProgress(target: pg.ClientBase, capture: string, startLsn: string): Promise<void> {
  if (!(await target.query("SELECT to_regclass('tickvault.cdc_progress') IS NOT NULL AS ok")).rows[0]?.ok) await target.query(SCHEMA);
  await target.query('INSERT INTO tickvault.cdc_progress (capture, lsn) VALUES ($1, $2::pg_lsn) ON CONFLICT (capture) DO NOTHING', [capture, startLsn]);
}

export async function readProgress(target: pg.ClientBase, capture: string): Promise<Progress | null> {
  if (!(await target.query("SELECT to_regclass('tickvault.cdc_progress') IS NOT NULL AS ok")).rows[0]?.ok) return null;
  const { rows } = await target.query<{ lsn: string; transactions: string; inserts: string; updates: string; deletes: string; truncates: string; last_commit: Date | null }>(
    'SELECT lsn::text AS lsn, transactions, inserts, updates, deletes, truncates, last_commit FROM tickvault.cdc_progress WHERE capture = $1',
    [capture],
  );
  const r = rows[0];
  if (!r) return null;
  return { lsn: r.lsn, transactions: Number(r.transactions), inserts: Number(r.inserts), updates: Number(r.updates), deletes: Number(r.deletes), truncates: Number(r.truncates), lastCommit: r.last_commit };
}

/** Move the applied position (never backwards) and add counts; in the caller's transaction. */
export async function advanceProgress(target: pg.ClientBase, capture: string, lsn: string, counts: Counts, lastCommit: Date | null): Promise<void> {
  await target.query(
    `UPDATE tickvault.cdc_progress SET lsn = greatest(lsn, $2::pg_lsn), transactions = transactions + $3, inserts = inserts + $4, updates = updates + $5,
            deletes = deletes + $6, truncates = truncates + $7, last_commit = coalesce($8, last_commit), updated_at = clock_timestamp() WHERE capture = $1`,
    [capture, lsn, counts.transactions, counts.inserts, counts.updates, counts.deletes, counts.truncates, lastCommit],
  );
}

export async function forgetProgress(target: pg.ClientBase, capture: string): Promise<void> {
  if ((await target.query("SELECT to_regclass('tickvault.cdc_progress') IS NOT NULL AS ok")).rows[0]?.ok) await target.query('DELETE FROM tickvault.cdc_progress WHERE capture = $1', [capture]);
}
