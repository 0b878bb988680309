import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { $ } from '../../engine/shell';
import { runTool } from '../../engine/tool';
import { VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import { formatBytes } from '../../engine/format';
import type { Run } from '../../engine/run';
import { backupPrefix, writeManifest, type Manifest } from '../../repository/manifest';
import { startBackup } from '../../repository/writing-lease';
import type { Repository } from '../../repository/repository';
import { stagingDir, uploadDir } from '../../repository/transfer';
import { libpqConnection, pgBin, toolVersion } from './binaries';
import { stopWithRun } from './children';
import { DUMP_TABLE_DONE, TocProgress } from './toc-progress';
import { connect } from './connect';
import { fingerprintTable, largeObjectsFingerprint, listTables, newestOf, sequenceStates, type TableFingerprint } from './fingerprint';
import { serverInfo, sourceIdentity } from './server-info';
import { tableLabel, type TableName } from './sql';
import { timescaleInventory, type TimescaleInventory } from './timescale';
import { tableDataEntry } from './toc-line';

export interface LogicalBackupOptions {
  databaseUrl: string;
  repo: Repository;
  env: string;
  jobs: number;
}

/**
 * TABLE DATA lines of a dump's table of contents, one character per byte
 * (latin1): pg_dump writes names in the database's encoding, which need not
 * be UTF-8. pg_restore prints them unquoted ("TABLE DATA Odd Schema Order
 * Items owner"), so callers look for a known schema and name (`storedNames`)
 * rather than split the line.
 */
export async function tocDataLines(dumpDir: string): Promise<string[]> {
  const list = await runTool(pgBin('pg_restore'), ['--list', dumpDir], { encoding: 'latin1' });
  return list.stdout.split('\n').filter((line) => tableDataEntry(line) !== undefined);
}

/** Each name as the database stores it (its encoding's bytes, one character per byte), as the dump has it. */
export async function storedNames(client: pg.ClientBase, names: string[]): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; bytes: Buffer }>(`SELECT name, convert_to(name, current_setting('server_encoding')) AS bytes FROM unnest($1::text[]) AS name`, [names]);
  return new Map(rows.map((r) => [r.name, r.bytes.toString('latin1')]));
}

export const hasTableData = (lines: string[], table: TableName, stored: Map<string, string>): boolean => {
  // pg_restore --list prints a line break inside a name as a space (sanitize_line).
  const name = (n: string) => (stored.get(n) ?? n).replace(/[\r\n]/g, ' ');
  return lines.some((line) => line.includes(` TABLE DATA ${name(table.schema)} ${name(table.name)} `));
};

/**
 * pg_dump directory format in parallel, from an exported snapshot; the
 * fingerprints are taken in the same snapshot, so they describe exactly
 * the rows in the dump.
 */
export async function logicalBackup(run: Run, opts: LogicalBackupOptions): Promise<Manifest> {
  const startedAt = new Date();
  const id = await startBackup(run, opts.repo, opts.env, 'postgres', 'logical', startedAt);
  const holder = await run.step('connect', () => connect(opts.databaseUrl), { readOnly: true });
  run.onCleanup(() => holder.end().catch(() => undefined));
  const info = await serverInfo(holder);
  const source = await sourceIdentity(holder, opts.databaseUrl);
  const tables = await listTables(holder);
  const partitioned = new Set((await holder.query<{ name: string }>("SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'p'")).rows.map((r) => r.name));
  const staging = stagingDir(opts.repo.stagingRoot?.() ?? path.join(stateRoot(), 'tmp'), id);
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));

  const dumped = await run.step('dump and fingerprint (one snapshot)', async (step) => {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await holder.query<{ snapshot: string; at: Date }>('SELECT pg_export_snapshot() AS snapshot, now() AS at');
    const { snapshot, at } = rows[0]!;
    const { conninfo, env } = libpqConnection(opts.databaseUrl);
    fs.mkdirSync(path.dirname(staging), { recursive: true });
    // -Z1: fast gzip; most of pg_dump's CPU goes to compression.
    const dump = stopWithRun(run, $({ env: { ...process.env, ...env } })`${pgBin('pg_dump')} --verbose --format=directory --jobs=${opts.jobs} --compress=1 --snapshot=${snapshot} --no-password --file=${staging} --dbname=${conninfo}`);
    // Progress in tables written; partitioned parents hold no rows of their own.
    const progress = new TocProgress((done, total) => step.progress(done, total, 'tables'));
    progress.expect(tables.filter((t) => !partitioned.has(tableLabel(t))).length);
    progress.watch(dump, DUMP_TABLE_DONE);
    const fingerprinting = (async () => {
      const out: TableFingerprint[] = [];
      for (const table of tables) out.push(await fingerprintTable(holder, table, { newestAsOf: at, inTransaction: true }));
      // Chunks, compressed chunks, aggregates and jobs as of the same snapshot too.
      return { tables: out, largeObjects: await largeObjectsFingerprint(holder), sequences: await sequenceStates(holder), timescale: await timescaleInventory(holder) };
    })();
    let prints: Awaited<typeof fingerprinting>;
    try {
      [, prints] = await Promise.all([dump, fingerprinting]);
    } catch (error) {
      dump.catch(() => undefined);
      await dump.kill().catch(() => undefined);
      throw error;
    }
    await holder.query('COMMIT');
    progress.finish();
    step.record({ tables: tables.length, snapshot });
    return { fingerprints: prints.tables, largeObjects: prints.largeObjects, sequences: prints.sequences, snapshotAt: at, timescale: prints.timescale as TimescaleInventory | null };
  }, { detail: `pg_dump -Fd -j${opts.jobs}`, dryRunResult: { fingerprints: [], largeObjects: { count: 0, hash: '0' }, sequences: {}, snapshotAt: startedAt, timescale: null } });
  if (run.dryRun) return undefined as unknown as Manifest;

  await run.step('check dump is readable (pg_restore --list)', async () => {
    // A partitioned table's rows are in its partitions' entries; it has none of its own.
    const lines = await tocDataLines(staging);
    const stored = await storedNames(holder, tables.flatMap((t) => [t.schema, t.name]));
    const missing = tables.filter((t) => !partitioned.has(tableLabel(t)) && !hasTableData(lines, t, stored)).map(tableLabel);
    if (missing.length) throw new VerificationError(`the dump's table of contents lacks: ${missing.join(', ')}`);
  });

  const files = await run.step('upload to repository', async (step) => {
    run.markChanged();
    const uploaded = await uploadDir(opts.repo, `${backupPrefix(opts.env, 'postgres', id)}/dump`, staging);
    const bytes = uploaded.reduce((sum, f) => sum + f.size, 0);
    step.record({ files: uploaded.length, bytes });
    step.note(`${uploaded.length} files, ${formatBytes(bytes)} → ${opts.repo.url}`);
    return uploaded.map((f) => ({ ...f, path: `dump/${f.path}` }));
  });

  const manifest: Manifest = {
    formatVersion: 1,
    id,
    env: opts.env,
    store: 'postgres',
    kind: 'logical',
    tool: { name: 'pg_dump', version: await toolVersion(pgBin('pg_dump')) },
    server: { version: info.version, extensions: info.extensions },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    dataUpTo: newestOf(dumped.fingerprints),
    // Everything committed before the exported snapshot is in the dump: that is the recovery point.
    recoveryPoint: dumped.snapshotAt.toISOString(),
    source,
    files,
    tables: dumped.fingerprints.map(({ table, rows, hash, algo, columns }) => ({ table, rows, hash, algo, ...(columns ? { columns } : {}) })),
    details: { snapshotAt: dumped.snapshotAt.toISOString(), database: source.database, format: 'directory', largeObjects: dumped.largeObjects, sequences: dumped.sequences, ...(dumped.timescale ? { timescale: dumped.timescale } : {}) },
    checks: ['pg_restore --list reads the table of contents', 'every fingerprinted table has a TABLE DATA entry', 'sha256 of every file'],
  };
  await run.step('write manifest', () => writeManifest(opts.repo, manifest));
  return manifest;
}
