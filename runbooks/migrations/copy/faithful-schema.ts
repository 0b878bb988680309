import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { tableLabel, type TableName } from '../../stores/postgres/sql';
import { existsOnTarget, found, members, requirements, type Requirement } from './dependencies';
import { restoreScript, schemaDump } from './dump-tools';
import type { CreatedObject, NotCarried, OptionalItem, SchemaPlan } from './schema-types';
import { tocEntries, type TocEntry } from './toc';

export type { CreatedObject, NotCarried, OptionalItem, SchemaPlan } from './schema-types';

/**
 * The DDL of a faithful copy, made the way pgcopydb makes it: pg_dump
 * --schema-only of the table and its partitions (every depth), plus the
 * types, domains, enums, sequences and functions they depend on taken from
 * a schema-only dump of the source; filtered by catalog OID (never by
 * parsing names) and turned into SQL by pg_restore. Objects already on the
 * target are reused, not recreated. What cannot be carried is listed.
 */
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
    for (const c of children.rows) notCarried.push({ kind: 'inheritance child', name: c.name, reason: 'a table of its own that inherits this one: not copied; only the parent\'s own rows were copied and verified' });
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
    const optional: { kind: OptionalItem['kind']; name: string; entry: TocEntry }[] = [];
    for (const entry of entries) {
      if (OPTIONAL[entry.desc]) {
        const verdict = await optionalBlocker(src, tgt, entry, memberOids);
        if (verdict.reason) notCarried.push({ kind: OPTIONAL[entry.desc]!, name: verdict.name, reason: verdict.reason });
        else optional.push({ kind: OPTIONAL[entry.desc]!, name: verdict.name, entry });
      } else if (CARRIED.has(entry.desc)) carried.push(entry);
      else notCarried.push({ kind: entry.desc.toLowerCase(), name: entry.tag, reason: 'not part of what copy-table carries' });
    }
    // pg_restore turns each part into SQL; the runs are independent, so they run side by side.
    const [preData, postData, ...optionalSql] = await Promise.all([restoreScript(own, carried, 'pre-data'), restoreScript(own, carried, 'post-data'), ...optional.map((o) => restoreScript(own, [o.entry]))]);
    pre.push(preData!);
    created.push({ kind: 'table', sql: parts[0]!.sql });
    const owned = await src.query<{ sql: string }>(
      "SELECT DISTINCT format('%I.%I', n.nspname, s.relname) AS sql FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace WHERE d.classid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[]) AND d.deptype IN ('a', 'i') ORDER BY 1",
      [memberOids],
    );
    sequences.push(...owned.rows.map((r) => r.sql));
    return { preData: pre.join('\n'), postData: postData!, optional: optional.map((o, i) => ({ kind: o.kind, name: o.name, sql: optionalSql[i]!, state: 'pending' as const })), notCarried, created, sequences, members: parts.map((m) => m.sql) };
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

