import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { ConfigError, VerificationError } from '../../engine/errors';
import { pgBinDir } from './binaries';
import { quoteIdent } from './sql';

/**
 * TimescaleDB specifics: is it installed, can this server create it, and
 * what does a database hold (hypertables, chunks, compressed chunks,
 * continuous aggregates, jobs) so backups and restores can be compared.
 */

/** The library and control file PostgreSQL would load, next to the server we run. */
export function timescaleInstalled(binDir = pgBinDir()): boolean {
  const version = path.basename(path.dirname(binDir));
  const lib = path.join(path.dirname(binDir), 'lib', 'timescaledb.so');
  const control = path.join('/usr/share/postgresql', version, 'extension', 'timescaledb.control');
  return fs.existsSync(lib) && fs.existsSync(control);
}

/**
 * postgresql.conf settings for a cluster we start: preload TimescaleDB when
 * it is installed (a restart-only setting), enough worker slots for the
 * launcher, one scheduler per database and the job workers (8 is too few),
 * and no telemetry. Empty when it is not installed.
 */
export function timescaleSettings(installed = timescaleInstalled()): Record<string, string | number> {
  if (!installed) return {};
  return { shared_preload_libraries: 'timescaledb', max_worker_processes: 32, 'timescaledb.telemetry_level': 'off' };
}

/**
 * Whether this server can really create the extension: listed by
 * pg_available_extensions is not enough (without preloading, CREATE
 * EXTENSION fails with "must be preloaded").
 */
export async function canCreateTimescale(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ available: boolean; preloaded: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
            'timescaledb' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS preloaded`,
  );
  return Boolean(rows[0]?.available && rows[0]?.preloaded);
}

/** The version CREATE EXTENSION would install here, or null when it cannot. */
export async function creatableTimescaleVersion(client: pg.ClientBase): Promise<string | null> {
  if (!(await canCreateTimescale(client))) return null;
  const { rows } = await client.query<{ v: string }>("SELECT default_version AS v FROM pg_available_extensions WHERE name = 'timescaledb'");
  return rows[0]?.v ?? null;
}

/** The version installed in this database, or null. */
export async function installedTimescaleVersion(client: pg.ClientBase): Promise<string | null> {
  const { rows } = await client.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'");
  return rows[0]?.v ?? null;
}

/** What a database's TimescaleDB objects hold; compared between a backup and its restore. */
export interface TimescaleInventory {
  version: string;
  hypertables: { name: string; chunks: number; compressedChunks: number; compression: string | null }[];
  aggregates: { name: string; rows: number; hash: string }[];
  jobs: string[];
}

/**
 * Hypertables with their chunk and compressed-chunk counts, continuous
 * aggregates with a content hash of their materialized rows (read through
 * the view with materialized_only, so a refresh is not needed), and the
 * policies (job procedure, target, schedule, config).
 */
export async function timescaleInventory(client: pg.ClientBase): Promise<TimescaleInventory | null> {
  const version = await installedTimescaleVersion(client);
  if (!version) return null;
  const hypertables = await client.query<{ name: string; chunks: string; compressed: string; compression: string | null }>(
    `SELECT format('%I.%I', h.hypertable_schema, h.hypertable_name) AS name,
            (SELECT count(*) FROM timescaledb_information.chunks c WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name)::text AS chunks,
            (SELECT count(*) FROM timescaledb_information.chunks c WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name AND c.is_compressed)::text AS compressed,
            (SELECT string_agg(format('%s:%s:%s', s.attname, coalesce(s.segmentby_column_index::text, ''), coalesce(s.orderby_column_index::text || CASE WHEN s.orderby_asc THEN ' asc' ELSE ' desc' END, '')), ',' ORDER BY s.attname)
               FROM timescaledb_information.compression_settings s WHERE s.hypertable_schema = h.hypertable_schema AND s.hypertable_name = h.hypertable_name) AS compression
       FROM timescaledb_information.hypertables h
      WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates a WHERE a.materialization_hypertable_schema = h.hypertable_schema AND a.materialization_hypertable_name = h.hypertable_name)
      ORDER BY 1`,
  );
  const views = await client.query<{ schema: string; name: string }>('SELECT view_schema AS schema, view_name AS name FROM timescaledb_information.continuous_aggregates ORDER BY 1, 2');
  const aggregates: TimescaleInventory['aggregates'] = [];
  for (const v of views.rows) {
    const { rows } = await client.query<{ rows: string; hash: string }>(
      `SELECT count(*)::text AS rows, coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text AS hash FROM ${quoteIdent(v.schema)}.${quoteIdent(v.name)} AS t`,
    );
    aggregates.push({ name: `${quoteIdent(v.schema)}.${quoteIdent(v.name)}`, rows: Number(rows[0]!.rows), hash: rows[0]!.hash });
  }
  // Job ids are catalog-assigned; describe a job by what it does, not its id.
  const jobs = await client.query<{ job: string }>(
    `SELECT format('%I.%I every %s on %s config %s', j.proc_schema, j.proc_name, j.schedule_interval,
                   coalesce(format('%I.%I', j.hypertable_schema, j.hypertable_name), '-'), coalesce(j.config::text, '{}')) AS job
       FROM timescaledb_information.jobs j WHERE j.job_id >= 1000 ORDER BY 1`,
  );
  return {
    version,
    hypertables: hypertables.rows.map((r) => ({ name: r.name, chunks: Number(r.chunks), compressedChunks: Number(r.compressed), compression: r.compression })),
    aggregates,
    jobs: jobs.rows.map((r) => r.job),
  };
}

/** Differences between two inventories, in words; empty when they match. */
export function inventoryDifferences(expected: TimescaleInventory, got: TimescaleInventory | null): string[] {
  if (!got) return ['TimescaleDB is not installed in the restored database'];
  const problems: string[] = [];
  const byName = <T extends { name: string }>(list: T[]) => new Map(list.map((x) => [x.name, x]));
  const gotHypertables = byName(got.hypertables);
  for (const h of expected.hypertables) {
    const g = gotHypertables.get(h.name);
    if (!g) problems.push(`hypertable ${h.name}: missing`);
    else {
      if (g.chunks !== h.chunks) problems.push(`hypertable ${h.name}: ${g.chunks} chunks, backup had ${h.chunks}`);
      if (g.compressedChunks !== h.compressedChunks) problems.push(`hypertable ${h.name}: ${g.compressedChunks} compressed chunks, backup had ${h.compressedChunks}`);
      if (g.compression !== h.compression) problems.push(`hypertable ${h.name}: compression settings differ`);
    }
  }
  const gotAggregates = byName(got.aggregates);
  for (const a of expected.aggregates) {
    const g = gotAggregates.get(a.name);
    if (!g) problems.push(`continuous aggregate ${a.name}: missing`);
    else if (g.rows !== a.rows) problems.push(`continuous aggregate ${a.name}: ${g.rows} materialized rows, backup had ${a.rows}`);
    else if (g.hash !== a.hash) problems.push(`continuous aggregate ${a.name}: materialized content differs`);
  }
  const gotJobs = new Set(got.jobs);
  for (const j of expected.jobs) if (!gotJobs.has(j)) problems.push(`job missing: ${j}`);
  return problems;
}

/** Short text for reports: "2 hypertables (14 chunks, 9 compressed), 4 aggregates, 6 jobs". */
export function describeInventory(inv: TimescaleInventory): string {
  const chunks = inv.hypertables.reduce((s, h) => s + h.chunks, 0);
  const compressed = inv.hypertables.reduce((s, h) => s + h.compressedChunks, 0);
  return `TimescaleDB ${inv.version}: ${inv.hypertables.length} hypertable(s) (${chunks} chunks, ${compressed} compressed), ${inv.aggregates.length} continuous aggregate(s), ${inv.jobs.length} job(s)`;
}

/** How a logical restore treats TimescaleDB: which version to create, and whether to update afterwards. */
export interface TimescaleRestorePlan {
  /** The backup's version, created before pre_restore (null: the backup has no TimescaleDB). */
  createVersion: string | null;
  /** ALTER EXTENSION timescaledb UPDATE after post_restore, to this version. */
  updateTo: string | null;
}

export interface TimescaleTarget {
  /** What CREATE EXTENSION installs there; null when the server cannot create it (not installed or not preloaded). */
  defaultVersion: string | null;
  /** Versions the server has scripts for (pg_available_extension_versions). */
  availableVersions: string[];
}

/**
 * Timescale's rule: restore into the same extension version, then update.
 * A target whose default version differs is refused (ConfigError, exit 2,
 * nothing changed) unless the operator asked to restore and then update,
 * which also needs the backup's version to be installable there.
 */
export function planTimescaleRestore(backupVersion: string | undefined, target: TimescaleTarget, allowUpdate: boolean): TimescaleRestorePlan {
  if (!backupVersion) return { createVersion: null, updateTo: null };
  if (!target.defaultVersion) {
    throw new ConfigError(`the backup uses TimescaleDB ${backupVersion}, but the target server cannot create the extension (not installed, or not in shared_preload_libraries); nothing was changed`, {
      hint: 'install TimescaleDB on the target server and preload it (shared_preload_libraries = timescaledb, then restart)',
    });
  }
  if (target.defaultVersion === backupVersion) return { createVersion: backupVersion, updateTo: null };
  if (!allowUpdate) {
    throw new ConfigError(`the backup was taken with TimescaleDB ${backupVersion}, the target server runs ${target.defaultVersion}; restoring across versions breaks (timescaledb#1797); nothing was changed`, {
      hint: `install TimescaleDB ${backupVersion} on the target, or pass --timescale-update to restore into ${backupVersion} and then ALTER EXTENSION timescaledb UPDATE to ${target.defaultVersion}`,
    });
  }
  if (!target.availableVersions.includes(backupVersion)) {
    throw new ConfigError(`--timescale-update needs TimescaleDB ${backupVersion} installable on the target to restore into before updating; the target offers ${target.availableVersions.join(', ') || 'none'}; nothing was changed`, {
      hint: `install the TimescaleDB ${backupVersion} files (library and extension scripts) next to ${target.defaultVersion} on the target`,
    });
  }
  return { createVersion: backupVersion, updateTo: target.defaultVersion };
}

export async function timescaleTarget(client: pg.ClientBase): Promise<TimescaleTarget> {
  const defaultVersion = await creatableTimescaleVersion(client);
  const { rows } = await client.query<{ v: string }>("SELECT version AS v FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY 1");
  return { defaultVersion, availableVersions: rows.map((r) => r.v) };
}

/** The restored database's TimescaleDB objects must match what the backup recorded. */
export async function verifyTimescaleRestore(client: pg.ClientBase, expected: TimescaleInventory, expectedVersion: string): Promise<TimescaleInventory> {
  const got = await timescaleInventory(client);
  const problems = inventoryDifferences(expected, got);
  if (got && got.version !== expectedVersion) problems.push(`TimescaleDB ${got.version} in the restored database, expected ${expectedVersion}`);
  if (problems.length) throw new VerificationError(`restored TimescaleDB objects do not match the backup: ${problems.join('; ')}`, { problems });
  return got!;
}

/** The same database URL with session settings for node-postgres (its `options` parameter). */
export function withSessionOptions(url: string, options: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', options);
  return parsed.toString();
}

export async function checkTimescaleVersion(client: pg.ClientBase, expected: string): Promise<void> {
  const got = await installedTimescaleVersion(client);
  if (got !== expected) throw new VerificationError(`TimescaleDB is ${got ?? 'missing'} in the restored database after the update, expected ${expected}`);
}

/** `pg_restore --list` lines of TimescaleDB's own catalog data: restored first and serially (its tables reference each other). */
export const TIMESCALE_CATALOG_DATA = /^\d+; \d+ \d+ (TABLE DATA|SEQUENCE SET) _timescaledb_(catalog|config|internal) (?!_hyper_|_materialized_hypertable_|compress_hyper_)/;
