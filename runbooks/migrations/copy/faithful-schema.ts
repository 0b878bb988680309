import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { $ } from 'zx';
import { ConfigError } from '../../engine/errors';
import { libpqConnection, pgBin } from '../../stores/postgres/binaries';
import { qualify, tableLabel, type TableName } from '../../stores/postgres/sql';
import { tocEntries, type TocEntry } from './toc';

/**
 * The DDL of a faithful copy, made the way pgcopydb makes it: pg_dump
 * --schema-only of the table and its partitions (every depth), plus the
 * types, domains, enums, sequences and functions they depend on taken from
 * a schema-only dump of the source; filtered by catalog OID (never by
 * parsing names) and turned into SQL by pg_restore. Objects already on the
 * target are reused, not recreated. What cannot be carried is listed.
 */
export interface NotCarried {
  kind: string;
  name: string;
  reason: string;
}

/** Something this copy created on the target; rollback drops exactly these. */
export interface CreatedObject {
  kind: 'schema' | 'extension' | 'type' | 'domain' | 'function' | 'sequence' | 'collation' | 'table';
  /** SQL-ready identity: quoted qualified name, or a function's regprocedure. */
  sql: string;
}

/** Restored after the data, each on its own; a failure is listed, not fatal. */
export interface OptionalItem {
  kind: 'foreign key' | 'trigger' | 'policy';
  name: string;
  sql: string;
  state: 'pending' | 'done' | 'not carried';
  reason?: string;
}

export interface SchemaPlan {
  /** One script, run in one transaction before the data. */
  preData: string;
  /** Indexes, keys, checks added after the data (one transaction). */
  postData: string;
  optional: OptionalItem[];
  notCarried: NotCarried[];
  created: CreatedObject[];
  /** Sequences created here whose value is taken from the source after the data. */
  sequences: string[];
  /** The table and all its partitions. */
  members: string[];
}

interface Member {
  oid: number;
  sql: string;
  label: string;
  kind: string;
}

async function members(src: pg.ClientBase, table: TableName): Promise<Member[]> {
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

interface Requirement {
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
async function requirements(src: pg.ClientBase, oids: number[]): Promise<Requirement[]> {
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

async function existsOnTarget(tgt: pg.ClientBase, req: Requirement): Promise<boolean> {
  const lookup = ({ type: 'to_regtype', domain: 'to_regtype', function: 'to_regprocedure', collation: 'to_regcollation', sequence: 'to_regclass' } as const)[req.kind as 'type'];
  return found(tgt, lookup, req.sql);
}

/** pg_dump --schema-only into a temporary custom-format file. */
async function schemaDump(sourceUrl: string, dir: string, name: string, tables: string[]): Promise<string> {
  const { conninfo, env } = libpqConnection(sourceUrl);
  const file = path.join(dir, `${name}.dump`);
  const selectors = tables.flatMap((t) => ['--table', t]);
  await $({ env: { ...process.env, ...env } })`${pgBin('pg_dump')} --format=custom --schema-only --no-password ${selectors} --file=${file} --dbname=${conninfo}`;
  return file;
}

/** SQL for the chosen TOC entries of a dump (pg_restore -L), owners and grants left out. */
async function restoreScript(file: string, entries: TocEntry[], section?: 'pre-data' | 'post-data'): Promise<string> {
  if (entries.length === 0) return '';
  const list = `${file}.${crypto.randomUUID()}.list`;
  fs.writeFileSync(list, entries.map((e) => e.line).join('\n') + '\n');
  const out = await $`${pgBin('pg_restore')} --no-owner --no-privileges --use-list=${list} ${section ? [`--section=${section}`] : []} --file=- ${file}`;
  return executable(out.stdout);
}

/**
 * pg_restore's script for psql minus psql's \restrict guard lines; we run it
 * through a client, which interprets no meta-commands at all.
 */
function executable(script: string): string {
  const lines = script.split('\n').filter((l) => !/^\\(un)?restrict /.test(l));
  const meta = lines.find((l) => l.startsWith('\\'));
  if (meta) throw new Error(`pg_restore produced a psql meta-command the copy cannot run: ${meta.slice(0, 80)}`);
  return lines.join('\n');
}

const OPTIONAL: Record<string, OptionalItem['kind']> = { 'FK CONSTRAINT': 'foreign key', TRIGGER: 'trigger', POLICY: 'policy' };
const CARRIED = new Set(['TABLE', 'SEQUENCE', 'SEQUENCE OWNED BY', 'DEFAULT', 'TABLE ATTACH', 'CONSTRAINT', 'CHECK CONSTRAINT', 'INDEX', 'INDEX ATTACH', 'COMMENT', 'ROW SECURITY', 'RULE', 'STATISTICS']);

/** Decide, for a trigger, foreign key or policy, whether the target can take it. */
async function optionalBlocker(src: pg.ClientBase, tgt: pg.ClientBase, entry: TocEntry, memberOids: number[]): Promise<{ name: string; reason?: string }> {
  if (entry.desc === 'FK CONSTRAINT') {
    const { rows } = await src.query<{ name: string; ref: string; refoid: number }>(
      "SELECT format('%s: %s', conrelid::regclass, conname) AS name, format('%I.%I', n.nspname, c.relname) AS ref, c.oid::int AS refoid FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.oid = $1",
      [entry.oid],
    );
    const fk = rows[0]!;
    if (memberOids.includes(fk.refoid)) return { name: fk.name };
    const there = await found(tgt, 'to_regclass', fk.ref);
    return { name: fk.name, ...(there ? {} : { reason: `references ${fk.ref}, which is not on the target (it was not copied)` }) };
  }
  if (entry.desc === 'TRIGGER') {
    const { rows } = await src.query<{ name: string; fn: string }>("SELECT format('%s: %s', tgrelid::regclass, tgname) AS name, format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS fn FROM pg_trigger g JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace WHERE g.oid = $1", [entry.oid]);
    const trigger = rows[0]!;
    const there = await found(tgt, 'to_regprocedure', trigger.fn);
    return { name: trigger.name, ...(there ? {} : { reason: `calls ${trigger.fn}, which does not exist on the target` }) };
  }
  const { rows } = await src.query<{ name: string; roles: string[] }>("SELECT format('%s: %s', polrelid::regclass, polname) AS name, array(SELECT rolname FROM pg_roles WHERE oid = ANY(polroles)) AS roles FROM pg_policy WHERE oid = $1", [entry.oid]);
  const policy = rows[0]!;
  const missing = (await tgt.query<{ r: string }>('SELECT r FROM unnest($1::text[]) AS r WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)', [policy.roles])).rows.map((r) => r.r);
  return { name: policy.name, ...(missing.length ? { reason: `applies to role(s) ${missing.join(', ')}, missing on the target` } : {}) };
}

/**
 * Work out everything the target needs for a faithful copy of `table`
 * (same name on both sides). Reads the source, dumps its schema, changes
 * nothing anywhere.
 */
export async function planFaithfulSchema(src: pg.ClientBase, tgt: pg.ClientBase, sourceUrl: string, table: TableName): Promise<SchemaPlan> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickvault-ddl-'));
  try {
    const parts = await members(src, table);
    const memberOids = parts.map((m) => m.oid);
    const notCarried: NotCarried[] = [];
    const created: CreatedObject[] = [];
    const pre: string[] = [];

    // Inheritance children are tables of their own: only the parent's own rows are copied.
    const children = await src.query<{ name: string }>("SELECT i.inhrelid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ANY($1::oid[]) AND NOT c.relispartition ORDER BY 1", [memberOids]);
    for (const c of children.rows) notCarried.push({ kind: 'inheritance child', name: c.name, reason: 'a table of its own; copy it separately (only the parent\'s own rows were copied)' });
    const acl = await src.query<{ name: string }>('SELECT oid::regclass::text AS name FROM pg_class WHERE oid = ANY($1::oid[]) AND (relacl IS NOT NULL OR EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = pg_class.oid AND attacl IS NOT NULL)) ORDER BY 1', [memberOids]);
    for (const a of acl.rows) notCarried.push({ kind: 'grants', name: a.name, reason: 'GRANTs are not copied (roles differ between clusters); re-grant on the target' });
    const owner = await src.query<{ owner: string }>('SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = $1', [memberOids[0]]);
    const me = (await tgt.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
    if (owner.rows[0]?.owner !== me) notCarried.push({ kind: 'owner', name: parts[0]!.label, reason: `owned by ${owner.rows[0]?.owner} on the source; on the target by ${me}, the copying role` });

    const needed: Requirement[] = [];
    const extensions = new Map<string, string>();
    for (const req of await requirements(src, memberOids)) {
      // An extension's objects come with the extension (wherever the target keeps it).
      if (req.extension) {
        if (!(await tgt.query('SELECT 1 FROM pg_extension WHERE extname = $1', [req.extension])).rowCount) extensions.set(req.extension, req.schema);
        continue;
      }
      if (req.kind === 'operator') throw new ConfigError(`${tableLabel(table)} depends on ${req.sql}, which copy-table does not carry; create it on the target first`);
      if (await existsOnTarget(tgt, req)) continue;
      if (req.skip) {
        if (req.skip === 'rowtype') throw new ConfigError(`${tableLabel(table)} depends on ${req.sql}, a row type of another table that is not on the target; copy that table first`);
      } else needed.push(req);
    }
    const schemas = new Set([table.schema, ...needed.map((r) => r.schema), ...extensions.values()]);
    for (const schema of schemas) {
      if ((await tgt.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount) continue;
      const sql = `"${schema.replace(/"/g, '""')}"`;
      pre.push(`CREATE SCHEMA ${sql};`);
      created.push({ kind: 'schema', sql });
    }
    for (const [ext, schema] of extensions) {
      const available = (await tgt.query('SELECT 1 FROM pg_available_extensions WHERE name = $1', [ext])).rowCount;
      if (!available) throw new ConfigError(`${tableLabel(table)} needs extension ${ext}, which the target server does not have`);
      const sql = `"${ext.replace(/"/g, '""')}"`;
      pre.push(`CREATE EXTENSION IF NOT EXISTS ${sql} WITH SCHEMA "${schema.replace(/"/g, '""')}";`);
      created.push({ kind: 'extension', sql });
    }

    // Types, domains, functions and free sequences: from a schema-only dump of the whole source, by OID.
    const sequences: string[] = [];
    if (needed.length) {
      const whole = await schemaDump(sourceUrl, dir, 'dependencies', []);
      const toc = await tocEntries(whole);
      const wanted = toc.filter((e) => needed.some((r) => r.classid === e.tableoid && r.objid === e.oid));
      for (const r of needed) {
        if (!wanted.some((e) => e.tableoid === r.classid && e.oid === r.objid)) throw new ConfigError(`${tableLabel(table)} depends on ${r.kind} ${r.sql}, which pg_dump does not dump on its own; create it on the target first`);
        created.push({ kind: r.kind as CreatedObject["kind"], sql: r.sql });
        if (r.kind === 'sequence') sequences.push(r.sql);
      }
      pre.push(await restoreScript(whole, wanted, 'pre-data'));
    }

    // The table and its partitions: pg_dump -t for each (exact, quoted patterns).
    const own = await schemaDump(sourceUrl, dir, 'table', parts.map((m) => m.sql));
    const entries = await tocEntries(own);
    const carried: TocEntry[] = [];
    const optional: OptionalItem[] = [];
    for (const entry of entries) {
      if (OPTIONAL[entry.desc]) {
        const verdict = await optionalBlocker(src, tgt, entry, memberOids);
        if (verdict.reason) notCarried.push({ kind: OPTIONAL[entry.desc]!, name: verdict.name, reason: verdict.reason });
        else optional.push({ kind: OPTIONAL[entry.desc]!, name: verdict.name, sql: await restoreScript(own, [entry]), state: 'pending' });
      } else if (CARRIED.has(entry.desc)) carried.push(entry);
      else notCarried.push({ kind: entry.desc.toLowerCase(), name: entry.tag, reason: 'not part of what copy-table carries' });
    }
    pre.push(await restoreScript(own, carried, 'pre-data'));
    const postData = await restoreScript(own, carried, 'post-data');
    created.push({ kind: 'table', sql: parts[0]!.sql });
    const owned = await src.query<{ sql: string }>(
      "SELECT DISTINCT format('%I.%I', n.nspname, s.relname) AS sql FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace WHERE d.classid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i') ORDER BY 1",
      [memberOids],
    );
    sequences.push(...owned.rows.map((r) => r.sql));
    return { preData: pre.join('\n'), postData, optional, notCarried, created, sequences, members: parts.map((m) => m.sql) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Give the target's sequences the source's position (idempotent). */
export async function copySequenceValues(src: pg.ClientBase, tgt: pg.ClientBase, sequences: string[]): Promise<void> {
  for (const seq of sequences) {
    const { rows } = await src.query<{ last: string; called: boolean }>(`SELECT last_value::text AS last, is_called AS called FROM ${seq}`);
    if (rows[0]) await tgt.query('SELECT setval($1::regclass, $2::bigint, $3)', [seq, rows[0].last, rows[0].called]);
  }
}

/**
 * Drop what a faithful copy created, newest first, never with CASCADE: an
 * object something else on the target has come to depend on stays, and is
 * reported.
 */
export async function dropCreated(tgt: pg.ClientBase, created: CreatedObject[]): Promise<{ dropped: string[]; kept: NotCarried[] }> {
  const dropped: string[] = [];
  const kept: NotCarried[] = [];
  for (const obj of [...created].reverse()) {
    const lookup = ({ table: 'to_regclass', sequence: 'to_regclass', function: 'to_regprocedure', type: 'to_regtype', domain: 'to_regtype', collation: 'to_regcollation', schema: 'to_regnamespace' } as const)[obj.kind as 'table'];
    const exists = lookup ? await found(tgt, lookup, obj.sql) : Boolean((await tgt.query('SELECT EXISTS (SELECT 1 FROM pg_extension WHERE quote_ident(extname) = $1) AS ok', [obj.sql])).rows[0]?.ok);
    if (!exists) continue;
    // Inside a caller's transaction a failed DROP must not abort it: guard with a savepoint there.
    const inTransaction = await tgt.query('SAVEPOINT tv_drop').then(() => true, () => false);
    try {
      await tgt.query(`DROP ${obj.kind.toUpperCase()} ${obj.sql}`);
      if (inTransaction) await tgt.query('RELEASE SAVEPOINT tv_drop');
      dropped.push(`${obj.kind} ${obj.sql}`);
    } catch (error) {
      if (inTransaction) await tgt.query('ROLLBACK TO SAVEPOINT tv_drop');
      kept.push({ kind: obj.kind, name: obj.sql, reason: (error as Error).message });
    }
  }
  return { dropped, kept };
}
