import type pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { qualify, tableLabel, type TableName } from '../../stores/postgres/sql';
import type { CreatedObject } from './schema-types';

/**
 * What a table needs on the target: its partitions (any depth), and the
 * types, functions, sequences, collations and operator classes its
 * columns, defaults, checks and indexes depend on (pg_depend).
 */
export interface Member {
  oid: number;
  sql: string;
  label: string;
  kind: string;
}

export async function members(src: pg.ClientBase, table: TableName): Promise<Member[]> {
  const { rows } = await src.query<Member & { partition: boolean; parent: string | null }>(
    `WITH RECURSIVE m(oid, depth) AS (
       SELECT to_regclass($1)::oid, 0
       UNION ALL SELECT i.inhrelid, m.depth + 1 FROM pg_inherits i JOIN m ON i.inhparent = m.oid JOIN pg_class c ON c.oid = i.inhrelid AND c.relispartition)
     SELECT c.oid::int AS oid, format('%I.%I', n.nspname, c.relname) AS sql, n.nspname || '.' || c.relname AS label, c.relkind::text AS kind,
            c.relispartition AS partition, (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid LIMIT 1) AS parent
       FROM m JOIN pg_class c ON c.oid = m.oid JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY m.depth, c.relname`,
    [qualify(table)],
  );
  const root = rows[0];
  if (!root) throw new ConfigError(`source has no table ${tableLabel(table)}`);
  if (root.partition) throw new ConfigError(`${tableLabel(table)} is a partition of ${root.parent}; copy the partitioned table ${root.parent} (its partitions come with it)`);
  if (root.parent) throw new ConfigError(`${tableLabel(table)} inherits from ${root.parent}; copy-table carries partitioned tables with their partitions, not inheritance children on their own`);
  if (root.kind !== 'r' && root.kind !== 'p') throw new ConfigError(`${tableLabel(table)} is not a table (relkind ${root.kind})`);
  return rows;
}

export interface Requirement {
  classid: number;
  objid: number;
  kind: CreatedObject['kind'] | 'operator';
  sql: string;
  schema: string;
  extension: string | null;
  /** Types made along with another object (arrays, multiranges, a table's row type): not created on their own. */
  skip: 'array' | 'multirange' | 'rowtype' | null;
}

/**
 * Types, functions, sequences and collations the members' columns,
 * defaults, checks and indexes depend on, followed through domains, arrays,
 * composites and ranges (pg_depend), built-ins excluded.
 */
export async function requirements(src: pg.ClientBase, oids: number[]): Promise<Requirement[]> {
  const { rows } = await src.query<Requirement>(
    `WITH RECURSIVE seed(classid, objid) AS (
       SELECT 'pg_class'::regclass::oid, o FROM unnest($1::oid[]) AS o
       UNION SELECT 'pg_attrdef'::regclass::oid, d.oid FROM pg_attrdef d WHERE d.adrelid = ANY($1::oid[])
       UNION SELECT 'pg_constraint'::regclass::oid, c.oid FROM pg_constraint c WHERE c.conrelid = ANY($1::oid[]) AND c.contype <> 'f'
       UNION SELECT 'pg_class'::regclass::oid, x.indexrelid FROM pg_index x WHERE x.indrelid = ANY($1::oid[])
     ), walk(classid, objid) AS (
       SELECT classid, objid FROM seed
       UNION
       SELECT d.refclassid, d.refobjid FROM walk w JOIN pg_depend d ON d.classid = w.classid AND d.objid = w.objid
        WHERE d.refobjid >= 16384 AND d.deptype IN ('n', 'a', 'i')
          AND (d.refclassid IN ('pg_type'::regclass, 'pg_proc'::regclass, 'pg_collation'::regclass, 'pg_opclass'::regclass, 'pg_opfamily'::regclass, 'pg_operator'::regclass)
               OR (d.refclassid = 'pg_class'::regclass AND (SELECT relkind FROM pg_class WHERE oid = d.refobjid) IN ('S', 'c')))
     )
     SELECT w.classid::int AS classid, w.objid::int AS objid,
            CASE WHEN w.classid = 'pg_type'::regclass THEN (CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END)
                 WHEN w.classid = 'pg_proc'::regclass THEN 'function'
                 WHEN w.classid = 'pg_collation'::regclass THEN 'collation'
                 WHEN w.classid IN ('pg_opclass'::regclass, 'pg_opfamily'::regclass, 'pg_operator'::regclass) THEN 'operator'
                 ELSE 'sequence' END AS kind,
            CASE WHEN w.classid = 'pg_type'::regclass THEN format('%I.%I', tn.nspname, t.typname)
                 WHEN w.classid = 'pg_proc'::regclass THEN format('%I.%I(%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
                 WHEN w.classid = 'pg_collation'::regclass THEN format('%I.%I', coln.nspname, col.collname)
                 WHEN w.classid = 'pg_opclass'::regclass THEN (SELECT format('operator class %I.%I', n.nspname, o.opcname) FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace WHERE o.oid = w.objid)
                 WHEN w.classid = 'pg_opfamily'::regclass THEN (SELECT format('operator family %I.%I', n.nspname, o.opfname) FROM pg_opfamily o JOIN pg_namespace n ON n.oid = o.opfnamespace WHERE o.oid = w.objid)
                 WHEN w.classid = 'pg_operator'::regclass THEN (SELECT format('operator %s', w.objid::regoperator) FROM pg_operator o WHERE o.oid = w.objid)
                 ELSE format('%I.%I', cn.nspname, c.relname) END AS sql,
            coalesce(tn.nspname, pn.nspname, coln.nspname, cn.nspname,
                     (SELECT n.nspname FROM pg_opclass o JOIN pg_namespace n ON n.oid = o.opcnamespace WHERE w.classid = 'pg_opclass'::regclass AND o.oid = w.objid),
                     (SELECT n.nspname FROM pg_opfamily o JOIN pg_namespace n ON n.oid = o.opfnamespace WHERE w.classid = 'pg_opfamily'::regclass AND o.oid = w.objid),
                     (SELECT n.nspname FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE w.classid = 'pg_operator'::regclass AND o.oid = w.objid)) AS schema,
            (SELECT e.extname FROM pg_depend ed JOIN pg_extension e ON e.oid = ed.refobjid
              WHERE ed.classid = w.classid AND ed.objid = w.objid AND ed.deptype = 'e' LIMIT 1) AS extension,
            CASE WHEN w.classid <> 'pg_type'::regclass THEN NULL
                 WHEN t.typelem <> 0 AND t.typcategory = 'A' THEN 'array'
                 WHEN t.typtype = 'm' THEN 'multirange'
                 WHEN t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) <> 'c' THEN 'rowtype' END AS skip
       FROM walk w
       LEFT JOIN pg_type t ON w.classid = 'pg_type'::regclass AND t.oid = w.objid LEFT JOIN pg_namespace tn ON tn.oid = t.typnamespace
       LEFT JOIN pg_proc p ON w.classid = 'pg_proc'::regclass AND p.oid = w.objid LEFT JOIN pg_namespace pn ON pn.oid = p.pronamespace
       LEFT JOIN pg_collation col ON w.classid = 'pg_collation'::regclass AND col.oid = w.objid LEFT JOIN pg_namespace coln ON coln.oid = col.collnamespace
       LEFT JOIN pg_class c ON w.classid = 'pg_class'::regclass AND c.oid = w.objid LEFT JOIN pg_namespace cn ON cn.oid = c.relnamespace
      WHERE w.objid >= 16384 AND w.classid IN ('pg_type'::regclass, 'pg_proc'::regclass, 'pg_collation'::regclass, 'pg_class'::regclass, 'pg_opclass'::regclass, 'pg_opfamily'::regclass, 'pg_operator'::regclass)
        AND NOT (w.classid = 'pg_class'::regclass AND (c.relkind IS DISTINCT FROM 'S' OR w.objid = ANY($1::oid[])))
        -- sequences owned by a member come with the member's own dump
        AND NOT (w.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_depend od WHERE od.classid = 'pg_class'::regclass AND od.objid = w.objid AND od.refobjid = ANY($1::oid[]) AND od.deptype IN ('a', 'i')))
      ORDER BY 1, 2`,
    [oids],
  );
  return rows;
}

/**
 * Does a to_reg*() lookup find the object? PostgreSQL 15's to_regtype and
 * to_regprocedure still raise "does not exist" when a name inside the text
 * (a schema, an argument type) is missing: that also means "not there".
 */
export async function found(client: pg.ClientBase, lookup: 'to_regtype' | 'to_regprocedure' | 'to_regcollation' | 'to_regclass' | 'to_regnamespace', text: string): Promise<boolean> {
  try {
    return Boolean((await client.query(`SELECT ${lookup}($1) IS NOT NULL AS ok`, [text])).rows[0]?.ok);
  } catch (error) {
    if ((error as { code?: string }).code === '42704' || (error as { code?: string }).code === '3F000') return false;
    throw error;
  }
}

export async function existsOnTarget(tgt: pg.ClientBase, req: Requirement): Promise<boolean> {
  const lookup = ({ type: 'to_regtype', domain: 'to_regtype', function: 'to_regprocedure', collation: 'to_regcollation', sequence: 'to_regclass' } as const)[req.kind as 'type'];
  return found(tgt, lookup, req.sql);
}

