import type pg from 'pg';
import { qualify, type TableName } from '../../stores/postgres/sql';

/**
 * The write fence at cutover: triggers that refuse INSERT, UPDATE, DELETE and
 * TRUNCATE on the source table for every role (superusers included, unlike
 * REVOKE). tickvault's own reverse replay passes by setting
 * tickvault.cdc_apply = on in its transaction. Sessions running with
 * session_replication_role = replica skip triggers and are not fenced.
 */
const FUNCTION = `
CREATE SCHEMA IF NOT EXISTS tickvault;
CREATE OR REPLACE FUNCTION tickvault.cdc_fence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('tickvault.cdc_apply', true), '') = 'on' THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  RAISE EXCEPTION 'table %.% is fenced: it was migrated by tickvault and takes no writes (cutover)', TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
`;

export async function fence(source: pg.ClientBase, table: TableName): Promise<void> {
  await source.query(FUNCTION);
  const t = qualify(table);
  await source.query(`DROP TRIGGER IF EXISTS tickvault_fence_rows ON ${t}`);
  await source.query(`DROP TRIGGER IF EXISTS tickvault_fence_truncate ON ${t}`);
  await source.query(`CREATE TRIGGER tickvault_fence_rows BEFORE INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION tickvault.cdc_fence()`);
  await source.query(`CREATE TRIGGER tickvault_fence_truncate BEFORE TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION tickvault.cdc_fence()`);
}

export async function unfence(source: pg.ClientBase, table: TableName): Promise<void> {
  if (!(await source.query('SELECT 1 FROM pg_class WHERE oid = to_regclass($1)', [qualify(table)])).rowCount) return;
  await source.query(`DROP TRIGGER IF EXISTS tickvault_fence_rows ON ${qualify(table)}`);
  await source.query(`DROP TRIGGER IF EXISTS tickvault_fence_truncate ON ${qualify(table)}`);
  // Leave nothing behind when no other table is fenced (checked first: this may run inside a transaction).
  const fn = await source.query<{ used: boolean | null }>("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgfoid = to_regprocedure('tickvault.cdc_fence()')) AS used WHERE to_regprocedure('tickvault.cdc_fence()') IS NOT NULL");
  if (fn.rows[0] && !fn.rows[0].used) await source.query('DROP FUNCTION tickvault.cdc_fence()');
  const empty = await source.query(`SELECT 1 FROM pg_namespace n WHERE nspname = 'tickvault'
    AND NOT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = n.oid) AND NOT EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = n.oid)
    AND NOT EXISTS (SELECT 1 FROM pg_type WHERE typnamespace = n.oid)`);
  if (empty.rowCount) await source.query('DROP SCHEMA tickvault');
}
