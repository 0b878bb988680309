import type pg from 'pg';

/**
 * Functions that a restore runs while it loads rows or builds post-data, and
 * that may write: CHECK and domain constraints, generated columns and
 * partition keys run for every loaded row; index expressions, validated
 * constraints and materialized views run in post-data; a TimescaleDB
 * hypertable's partitioning function on every row. A CHECK that logs into
 * an audit table makes that table change after its own data loaded, so
 * verification may not start before the last of them ran.
 *
 * Trusted: PostgreSQL's own functions that are not volatile, and
 * extensions' functions that are not volatile. Anything else (the database's
 * own functions, whatever they are declared) may write. Returns them as
 * regprocedure text, for the log.
 */
export async function loadTimeFunctions(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ fn: string }>(
    `WITH used AS (
       SELECT CASE WHEN d.refclassid = 'pg_operator'::regclass THEN (SELECT o.oprcode::oid FROM pg_operator o WHERE o.oid = d.refobjid) ELSE d.refobjid END AS fn
         FROM pg_depend d
        WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass)
          AND (d.classid = 'pg_constraint'::regclass
            OR (d.classid = 'pg_attrdef'::regclass AND EXISTS (SELECT 1 FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum WHERE ad.oid = d.objid AND a.attgenerated <> ''))
            OR (d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.objid AND c.relkind IN ('i', 'I', 'p')))
            OR (d.classid = 'pg_rewrite'::regclass AND EXISTS (SELECT 1 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid AND c.relkind = 'm')))
     )
     SELECT DISTINCT p.oid::regprocedure::text AS fn
       FROM used JOIN pg_proc p ON p.oid = used.fn
      WHERE p.provolatile = 'v'
         OR (p.pronamespace <> 'pg_catalog'::regnamespace
             AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.refclassid = 'pg_extension'::regclass AND e.deptype = 'e'))
      ORDER BY 1`,
  );
  const fns = rows.map((r) => r.fn);
  const timescale = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
  if (timescale.rowCount) {
    const { rows: partitioning } = await client.query<{ fn: string }>(
      `SELECT DISTINCT format('%I.%I', partitioning_func_schema, partitioning_func) AS fn FROM _timescaledb_catalog.dimension
        WHERE partitioning_func IS NOT NULL AND partitioning_func_schema NOT IN ('_timescaledb_functions', '_timescaledb_internal')`,
    );
    fns.push(...partitioning.map((r) => r.fn));
  }
  return fns;
}
