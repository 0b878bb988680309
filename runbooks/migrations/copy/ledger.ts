import { inTransaction } from '../../engine/transaction';
import type pg from 'pg';
import { quoteIdent, type TableName } from '../../stores/postgres/sql';

/**
 * The copy ledger on the target (timescaledb-parallel-copy style).
 *  - copy_splits: how the source was split (method, column, type), written
 *    once with the batches; a resume reads it and never re-splits, so the
 *    ranges mean the same thing whatever the planner's statistics say now.
 *  - copy_batches: each batch's range; its rows and its "done" mark commit in
 *    one transaction, so a run killed with kill -9 loses nothing and repeats
 *    nothing when resumed.
 *  - copy_schema: what a faithful copy created on the target and what it
 *    could not carry (rollback drops exactly what is listed there).
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
);
CREATE TABLE IF NOT EXISTS tickvault.copy_splits (
  plan text NOT NULL,
  target text NOT NULL,
  method text NOT NULL CHECK (method IN ('key', 'ctid', 'none')),
  column_name text,
  column_type text,
  batches integer NOT NULL,
  planned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (plan, target)
);
CREATE TABLE IF NOT EXISTS tickvault.copy_schema (
  plan text NOT NULL,
  target text NOT NULL,
  state text NOT NULL CHECK (state IN ('pre-data', 'post-data')),
  created jsonb NOT NULL,
  not_carried jsonb NOT NULL,
  post_data text NOT NULL,
  optional jsonb NOT NULL,
  sequences jsonb NOT NULL,
  PRIMARY KEY (plan, target)
)`;

export interface Batch {
  batch: number;
  lo: string | null;
  hi: string | null;
  state: 'pending' | 'done';
  rows: number | null;
}

export interface Range {
  lo: string | null;
  hi: string | null;
}

/** How a table is cut into batches: by a key column's value ranges, by block (ctid) ranges, or not at all. */
export interface Split {
  method: 'key' | 'ctid' | 'none';
  column: string | null;
  /** The key column's type, as format_type printed it when the split was made. */
  type: string | null;
  ranges: Range[];
}

const SIMPLE = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * The ledger's scope key for a table: "schema.name" for plain names (what
 * earlier ledgers used), the quoted form otherwise, so names holding dots
 * or quotes can never collide.
 */
export const ledgerKey = (table: TableName): string => (SIMPLE.test(table.schema) && SIMPLE.test(table.name) ? `${table.schema}.${table.name}` : `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`);

export async function ensureLedger(client: pg.ClientBase): Promise<void> {
  await client.query(SCHEMA);
}

export async function ledgerExists(client: pg.ClientBase): Promise<boolean> {
  return Boolean((await client.query("SELECT to_regclass('tickvault.copy_splits') IS NOT NULL AS ok")).rows[0]?.ok);
}

async function readBatches(client: pg.ClientBase, plan: string, target: string): Promise<Batch[]> {
  return (await client.query<Batch>('SELECT batch, lo, hi, state, rows::int AS rows FROM tickvault.copy_batches WHERE plan = $1 AND target = $2 ORDER BY batch', [plan, target])).rows;
}

/** The split stored by an earlier run, with its batches; undefined when this copy has not started. */
export async function readSplit(client: pg.ClientBase, plan: string, target: string): Promise<{ split: Split; batches: Batch[] } | undefined> {
  if (!(await ledgerExists(client))) return undefined;
  const { rows } = await client.query<{ method: Split['method']; column: string | null; type: string | null }>('SELECT method, column_name AS column, column_type AS type FROM tickvault.copy_splits WHERE plan = $1 AND target = $2', [plan, target]);
  const batches = await readBatches(client, plan, target);
  if (!rows[0]) {
    if (batches.length) throw new Error(`the copy ledger of ${target} has batches but no stored split (written by an older version); roll the copy back and run it again`);
    return undefined;
  }
  return { split: { ...rows[0], ranges: batches.map((b) => ({ lo: b.lo, hi: b.hi })) }, batches };
}

/** Store the split and its batches; call inside the caller's transaction. */
export async function recordSplit(client: pg.ClientBase, plan: string, target: string, split: Split): Promise<Batch[]> {
  await client.query('INSERT INTO tickvault.copy_splits (plan, target, method, column_name, column_type, batches) VALUES ($1, $2, $3, $4, $5, $6)', [plan, target, split.method, split.column, split.type, split.ranges.length]);
  for (const [i, r] of split.ranges.entries()) await client.query('INSERT INTO tickvault.copy_batches (plan, target, batch, lo, hi) VALUES ($1, $2, $3, $4, $5)', [plan, target, i, r.lo, r.hi]);
  return split.ranges.map((r, i) => ({ batch: i, lo: r.lo, hi: r.hi, state: 'pending', rows: null }));
}

/** The batches of (plan, target), for ledgers whose ranges are fixed by the caller (no split column). */
export async function planBatches(client: pg.ClientBase, plan: string, target: string, make: () => Promise<Range[]>): Promise<{ batches: Batch[]; resumed: boolean }> {
  await ensureLedger(client);
  const existing = await readBatches(client, plan, target);
  if (existing.length) return { batches: existing, resumed: true };
  const ranges = await make();
  await inTransaction(client, async () => {
    for (const [i, r] of ranges.entries()) await client.query('INSERT INTO tickvault.copy_batches (plan, target, batch, lo, hi) VALUES ($1, $2, $3, $4, $5)', [plan, target, i, r.lo, r.hi]);
  });
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
  if (await ledgerExists(client)) {
    await client.query('DELETE FROM tickvault.copy_splits WHERE plan = $1 AND target = $2', [plan, target]);
    await client.query('DELETE FROM tickvault.copy_schema WHERE plan = $1 AND target = $2', [plan, target]);
  }
}

/** A faithful copy's schema record: what it created, what it could not carry, what is left to do. */
export interface SchemaRecord {
  state: 'pre-data' | 'post-data';
  created: { kind: string; sql: string }[];
  notCarried: { kind: string; name: string; reason: string }[];
  postData: string;
  optional: { kind: string; name: string; sql: string; state: string; reason?: string }[];
  sequences: string[];
}

export async function readSchemaRecord(client: pg.ClientBase, plan: string, target: string): Promise<SchemaRecord | undefined> {
  if (!(await ledgerExists(client))) return undefined;
  const { rows } = await client.query<SchemaRecord>('SELECT state, created, not_carried AS "notCarried", post_data AS "postData", optional, sequences FROM tickvault.copy_schema WHERE plan = $1 AND target = $2', [plan, target]);
  return rows[0];
}

/** Store (or update) the schema record; call inside the transaction that made the change it records. */
export async function writeSchemaRecord(client: pg.ClientBase, plan: string, target: string, r: SchemaRecord): Promise<void> {
  await client.query(
    `INSERT INTO tickvault.copy_schema (plan, target, state, created, not_carried, post_data, optional, sequences) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (plan, target) DO UPDATE SET state = EXCLUDED.state, created = EXCLUDED.created, not_carried = EXCLUDED.not_carried, optional = EXCLUDED.optional`,
    [plan, target, r.state, JSON.stringify(r.created), JSON.stringify(r.notCarried), r.postData, JSON.stringify(r.optional), JSON.stringify(r.sequences)],
  );
}
