import type pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { qualify, quoteIdent, tableLabel, type TableName } from '../../stores/postgres/sql';
import { CAPTURE_PREFIX } from './names';

/** Logical decoding needs wal_level=logical and a free slot; say what to change when it is not there. */
export async function checkLogical(source: pg.ClientBase, table: TableName): Promise<{ replicaIdentity: string }> {
  const { rows } = await source.query<{ wal_level: string; ident: string | null; pk: boolean }>(
    `SELECT current_setting('wal_level') AS wal_level, c.relreplident::text AS ident,
            EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = c.oid AND contype = 'p') AS pk
       FROM (SELECT 1) one LEFT JOIN pg_class c ON c.oid = to_regclass($1)`,
    [qualify(table)],
  );
  const row = rows[0]!;
  if (row.wal_level !== 'logical') throw new ConfigError(`the source runs with wal_level=${row.wal_level}; change capture needs wal_level=logical`, { hint: 'ALTER SYSTEM SET wal_level = logical; then restart the source (the local stack sets it)' });
  if (row.ident === 'n') throw new ConfigError(`${tableLabel(table)} has REPLICA IDENTITY NOTHING: its updates and deletes carry no key`, { hint: `ALTER TABLE ${qualify(table)} REPLICA IDENTITY DEFAULT (or FULL)` });
  if (row.ident === 'd' && !row.pk) throw new ConfigError(`${tableLabel(table)} has no primary key: change capture needs one to apply updates and deletes by key`);
  return { replicaIdentity: { d: 'default (primary key)', f: 'full', i: 'index' }[row.ident ?? 'd'] ?? String(row.ident) };
}

/**
 * Publication first, then the slot: pgoutput reads the publication through
 * the catalog as of each change, so it must exist before the first change
 * the slot returns. Idempotent (a re-run after a crash finds both).
 * The slot is created before the backfill's snapshot, so no change is missed.
 */
export async function createCapture(source: pg.ClientBase, name: string, table: TableName | TableName[], only: boolean | boolean[] = false): Promise<{ startLsn: string }> {
  const tables = Array.isArray(table) ? table : [table];
  const onlyOf = (i: number) => (Array.isArray(only) ? only[i] : only);
  const pub = await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  // Several tables: one publication and one slot for all of them, so their changes arrive in one commit order.
  if (!pub.rowCount) await source.query(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.map((t, i) => `${onlyOf(i) ? 'ONLY ' : ''}${qualify(t)}`).join(', ')}`);
  const slot = await source.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [name]);
  if (slot.rows[0]) return { startLsn: slot.rows[0].lsn };
  const { rows } = await source.query<{ lsn: string }>("SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')", [name]);
  return { startLsn: rows[0]!.lsn };
}

/** Remove slot and publication (either may be gone already). */
export async function dropCapture(source: pg.ClientBase, name: string): Promise<{ droppedSlot: boolean; droppedPublication: boolean }> {
  const slot = await source.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [name]);
  const pub = await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  if (pub.rowCount) await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
  return { droppedSlot: Boolean(slot.rowCount), droppedPublication: Boolean(pub.rowCount) };
}

export interface SlotReport {
  slot: string;
  database: string | null;
  plugin: string | null;
  active: boolean;
  /** WAL the slot keeps on the server's disk, in bytes. */
  retainedBytes: number;
  tickvault: boolean;
}

/** Every replication slot on the server (tickvault's and foreign ones) and the WAL each holds back. */
export async function listSlots(client: pg.ClientBase): Promise<SlotReport[]> {
  const { rows } = await client.query<{ slot: string; database: string | null; plugin: string | null; active: boolean; retained: string | null }>(
    `SELECT slot_name AS slot, database, plugin, active,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained
       FROM pg_replication_slots ORDER BY slot_name`,
  );
  return rows.map((r) => ({ slot: r.slot, database: r.database, plugin: r.plugin, active: r.active, retainedBytes: Number(r.retained ?? 0), tickvault: r.slot.startsWith(CAPTURE_PREFIX) }));
}

/** Skip, in the slot, the source's own writes up to now (reverse replays: already on the target). */
export async function skipSlot(source: pg.ClientBase, name: string): Promise<void> {
  await source.query('SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn < pg_current_wal_lsn()', [name]);
}
