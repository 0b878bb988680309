import type pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { qualify, quoteIdent, tableLabel, type TableName } from '../../stores/postgres/sql';

export interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
}

export interface TableInfo {
  table: TableName;
  columns: ColumnInfo[];
  primaryKey: string[];
  /** Secondary and unique index definitions (not the primary key's). */
  indexes: { name: string; definition: string }[];
  primaryKeyName: string | null;
  /** Approximate rows (planner estimate) and size in blocks. */
  estimatedRows: number;
  blocks: number;
}

export async function describeTable(client: pg.ClientBase, table: TableName, label = 'source'): Promise<TableInfo> {
  const { rows: exists } = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [qualify(table)]);
  const oid = exists[0]?.oid;
  if (!oid) throw new ConfigError(`${label} has no table ${tableLabel(table)}`);
  const columns = await client.query<ColumnInfo>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull"
       FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [oid],
  );
  const pk = await client.query<{ name: string; cols: string[] }>(
    `SELECT c.conname AS name, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
      WHERE c.conrelid = $1::oid AND c.contype = 'p' GROUP BY c.conname`,
    [oid],
  );
  const indexes = await client.query<{ name: string; definition: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indrelid = $1::oid AND NOT x.indisprimary ORDER BY 1`,
    [oid],
  );
  const size = await client.query<{ rows: string; blocks: string }>(`SELECT greatest(reltuples, 0)::bigint::text AS rows, (pg_relation_size($1::oid) / current_setting('block_size')::int)::text AS blocks FROM pg_class WHERE oid = $1::oid`, [oid]);
  return {
    table,
    columns: columns.rows,
    primaryKey: pk.rows[0]?.cols ?? [],
    primaryKeyName: pk.rows[0]?.name ?? null,
    indexes: indexes.rows,
    estimatedRows: Number(size.rows[0]?.rows ?? 0),
    blocks: Number(size.rows[0]?.blocks ?? 0),
  };
}

/** CREATE TABLE with the same columns and types, no constraints beyond NOT NULL (they come after the data). */
export function createTableSql(info: TableInfo, target: TableName): string {
  const cols = info.columns.map((c) => `${quoteIdent(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`).join(',\n  ');
  return `CREATE TABLE IF NOT EXISTS ${qualify(target)} (\n  ${cols}\n)`;
}

/** Rewrite a source index definition for the target table. */
export function retargetIndex(definition: string, source: TableName, target: TableName): string {
  return definition.replace(/^CREATE (UNIQUE )?INDEX (\S+) ON (ONLY )?\S+/, (_m, unique: string | undefined, name: string) => `CREATE ${unique ?? ''}INDEX IF NOT EXISTS ${name} ON ${qualify(target)}`).replace(new RegExp(`\\b${source.schema}\\.${source.name}\\b`, 'g'), `${target.schema}.${target.name}`);
}
