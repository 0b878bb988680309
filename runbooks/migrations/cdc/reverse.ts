import type pg from 'pg';
import { inTransaction } from '../../engine/transaction';
import { qualify, type TableName } from '../../stores/postgres/sql';
import { applyChanges, type RowChange } from './apply';

/**
 * Reverse capture from cutover until cleanup: row triggers on the target
 * table log every write to tickvault.cdc_reverse. Ids order each row's
 * writes as they were made (a second writer of a row waits for the first to
 * commit before its trigger draws an id), so replay is by numeric id.
 * Triggers rather than a second logical slot because they work the same on
 * a plain table, a partitioned one and a TimescaleDB hypertable (whose rows
 * live in chunks a publication on the hypertable does not see), and the log
 * commits with the write it records. Rollback after cutover replays the log
 * onto the source, so no write made on the target since cutover is lost.
 */
const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tickvault;
CREATE TABLE IF NOT EXISTS tickvault.cdc_reverse (
  id bigserial PRIMARY KEY,
  capture text NOT NULL,
  op text NOT NULL CHECK (op IN ('upsert', 'delete', 'truncate')),
  old_row jsonb,
  new_row jsonb,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION tickvault.cdc_reverse_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO tickvault.cdc_reverse (capture, op) VALUES (TG_ARGV[0], 'truncate');
    RETURN NULL;
  END IF;
  INSERT INTO tickvault.cdc_reverse (capture, op, old_row, new_row)
  VALUES (TG_ARGV[0], CASE WHEN TG_OP = 'DELETE' THEN 'delete' ELSE 'upsert' END,
          CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END, CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
  RETURN NULL;
END $$;
`;

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function startReverse(target: pg.ClientBase, table: TableName, capture: string): Promise<void> {
  await target.query(SCHEMA);
  const t = qualify(table);
  await target.query(`DROP TRIGGER IF EXISTS tickvault_reverse_rows ON ${t}`);
  await target.query(`DROP TRIGGER IF EXISTS tickvault_reverse_truncate ON ${t}`);
  await target.query(`CREATE TRIGGER tickvault_reverse_rows AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION tickvault.cdc_reverse_log(${literal(capture)})`);
  await target.query(`CREATE TRIGGER tickvault_reverse_truncate AFTER TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION tickvault.cdc_reverse_log(${literal(capture)})`);
}

/** Remove the triggers and this capture's log (cleanup, or after a replay). */
export async function stopReverse(target: pg.ClientBase, table: TableName, capture: string): Promise<void> {
  if ((await target.query('SELECT 1 FROM pg_class WHERE oid = to_regclass($1)', [qualify(table)])).rowCount) {
    await target.query(`DROP TRIGGER IF EXISTS tickvault_reverse_rows ON ${qualify(table)}`);
    await target.query(`DROP TRIGGER IF EXISTS tickvault_reverse_truncate ON ${qualify(table)}`);
  }
  if ((await target.query("SELECT to_regclass('tickvault.cdc_reverse') IS NOT NULL AS ok")).rows[0]?.ok) await target.query('DELETE FROM tickvault.cdc_reverse WHERE capture = $1', [capture]);
}

export async function reverseCount(target: pg.ClientBase, capture: string): Promise<number> {
  if (!(await target.query("SELECT to_regclass('tickvault.cdc_reverse') IS NOT NULL AS ok")).rows[0]?.ok) return 0;
  return Number((await target.query<{ n: string }>('SELECT count(*)::text AS n FROM tickvault.cdc_reverse WHERE capture = $1', [capture])).rows[0]!.n);
}

/**
 * Replay the target's logged writes onto the source table, oldest first, in
 * one source transaction (it passes the fence by tickvault.cdc_apply, and
 * `beforeCommit` may lift the fence in the same transaction); then forget
 * the replayed entries. Replay is by key: if a crash comes between the two
 * commits, replaying the same prefix again before the newer entries ends in
 * the same state.
 */
export async function replayReverse(target: pg.ClientBase, source: pg.ClientBase, sourceTable: TableName, key: string[], capture: string, beforeCommit: () => Promise<void> = async () => undefined): Promise<number> {
  if (!(await target.query("SELECT to_regclass('tickvault.cdc_reverse') IS NOT NULL AS ok")).rows[0]?.ok) {
    await inTransaction(source, beforeCommit);
    return 0;
  }
  const { rows } = await target.query<{ id: string; op: RowChange['op']; old_row: Record<string, unknown> | null; new_row: Record<string, unknown> | null }>('SELECT id::text AS id, op, old_row, new_row FROM tickvault.cdc_reverse WHERE capture = $1 ORDER BY cdc_reverse.id', [capture]);
  const changes: RowChange[] = rows.map((r) => (r.op === 'truncate' ? { op: 'truncate' } : r.op === 'delete' ? { op: 'delete', key: r.old_row! } : { op: 'upsert', row: r.new_row!, ...(r.old_row ? { oldKey: r.old_row } : {}) }));
  await inTransaction(source, async () => {
    await source.query("SELECT set_config('tickvault.cdc_apply', 'on', true)");
    if (changes.length) await applyChanges(source, sourceTable, key, changes, { form: 'json' });
    await beforeCommit();
  });
  if (rows.length) await target.query('DELETE FROM tickvault.cdc_reverse WHERE capture = $1 AND id <= $2::bigint', [capture, rows[rows.length - 1]!.id]);
  return changes.length;
}
