import type pg from 'pg';

/**
 * The batch ledger (timescaledb-parallel-copy style): each batch's rows and
 * its "done" mark commit in one transaction on the target, so a run killed
 * with kill -9 loses nothing and repeats nothing when resumed.
 */
const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tickvault;
CREATE TABLE IF NOT EXISTS tickvault.copy_batches (
  plan text NOT NULL,
  target text NOT NULL,
  batch integer NOT NULL,
  lo text,
  hi text,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
  rows bigint,
  ms integer,
  done_at timestamptz,
  PRIMARY KEY (plan, target, batch)
)`;

export interface Batch {
  batch: number;
  lo: string | null;
  hi: string | null;
  state: 'pending' | 'done';
  rows: number | null;
}

export async function ensureLedger(client: pg.ClientBase): Promise<void> {
  await client.query(SCHEMA);
}

/** The batches of (plan, target); planned once, so boundaries stay fixed across resumes. */
export async function planBatches(client: pg.ClientBase, plan: string, target: string, make: () => Promise<{ lo: string | null; hi: string | null }[]>): Promise<{ batches: Batch[]; resumed: boolean }> {
  await ensureLedger(client);
  const existing = await client.query<Batch>('SELECT batch, lo, hi, state, rows::int AS rows FROM tickvault.copy_batches WHERE plan = $1 AND target = $2 ORDER BY batch', [plan, target]);
  if (existing.rows.length) return { batches: existing.rows, resumed: true };
  const ranges = await make();
  await client.query('BEGIN');
  for (const [i, r] of ranges.entries()) await client.query('INSERT INTO tickvault.copy_batches (plan, target, batch, lo, hi) VALUES ($1, $2, $3, $4, $5)', [plan, target, i, r.lo, r.hi]);
  await client.query('COMMIT');
  return { batches: ranges.map((r, i) => ({ batch: i, lo: r.lo, hi: r.hi, state: 'pending', rows: null })), resumed: false };
}

/** Mark a batch done inside the caller's open transaction. */
export async function markDone(client: pg.ClientBase, plan: string, target: string, batch: number, rows: number, ms: number): Promise<void> {
  await client.query("UPDATE tickvault.copy_batches SET state = 'done', rows = $4, ms = $5, done_at = now() WHERE plan = $1 AND target = $2 AND batch = $3", [plan, target, batch, rows, ms]);
}

export async function forgetBatches(client: pg.ClientBase, plan: string, target: string): Promise<void> {
  if ((await client.query("SELECT to_regclass('tickvault.copy_batches') IS NOT NULL AS ok")).rows[0]?.ok) {
    await client.query('DELETE FROM tickvault.copy_batches WHERE plan = $1 AND target = $2', [plan, target]);
  }
}
