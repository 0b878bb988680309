import type pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { qualify, quoteIdent, tableLabel, type TableName } from '../../stores/postgres/sql';

export interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  /**
   * Copy as text: the type (or its element or base type) is not built in, so its
   * binary form names OIDs, or it has no binary form at all (aclitem).
   */
  userType: boolean;
}

export interface TableInfo {
  table: TableName;
  /** pg_class.relkind: 'r' plain, 'p' partitioned. */
  kind: string;
  /** What to SELECT from: ONLY the table itself when it has inheritance children (they are tables of their own). */
  from: string;
  columns: ColumnInfo[];
  primaryKey: string[];
  /** Secondary and unique index definitions (not the primary key's). */
  indexes: { name: string; definition: string }[];
  primaryKeyName: string | null;
  /** Approximate rows (planner estimate, partitions included) and size in blocks. */
  estimatedRows: number;
  blocks: number;
}

export async function describeTable(client: pg.ClientBase, table: TableName, label = 'source'): Promise<TableInfo> {
  const { rows: exists } = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [qualify(table)]);
  const oid = exists[0]?.oid;
  if (!oid) throw new ConfigError(`${label} has no table ${tableLabel(table)}`);
  const columns = await client.query<ColumnInfo>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
            (a.atttypid >= 16384 OR t.typelem >= 16384 OR t.typbasetype >= 16384
             OR t.typsend = 0 OR t.typreceive = 0 OR e.typsend = 0 OR e.typreceive = 0) AS "userType"
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typelem <> 0
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`,
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
  const size = await client.query<{ rows: string; blocks: string; kind: string; children: boolean }>(
    `WITH RECURSIVE parts(oid) AS (SELECT $1::oid UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN parts p ON i.inhparent = p.oid JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition)
     SELECT (SELECT sum(greatest(c.reltuples, 0))::bigint::text FROM parts JOIN pg_class c USING (oid)) AS rows,
            (pg_relation_size($1::oid) / current_setting('block_size')::int)::text AS blocks,
            (SELECT relkind::text FROM pg_class WHERE oid = $1::oid) AS kind,
            -- inheritance children, but not a hypertable's chunks: those are the table's own rows
            EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE i.inhparent = $1::oid AND NOT c.relispartition AND n.nspname !~ '^_timescaledb') AS children`,
    [oid],
  );
  const kind = size.rows[0]?.kind ?? 'r';
  return {
    table,
    kind,
    from: size.rows[0]?.children ? `ONLY ${qualify(table)}` : qualify(table),
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
