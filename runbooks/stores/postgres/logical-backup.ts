import fs from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import type { Run } from '../../engine/run';
import { backupPrefix, newBackupId, writeManifest, type Manifest } from '../../repository/manifest';
import type { Repository } from '../../repository/repository';
import { stagingDir, uploadDir } from '../../repository/transfer';
import { libpqConnection, pgBin, toolVersion } from './binaries';
import { connect } from './connect';
import { fingerprintTable, listTables, newestOf, type TableFingerprint } from './fingerprint';
import { serverInfo } from './server-info';
import { timescaleInventory, type TimescaleInventory } from './timescale';

export interface LogicalBackupOptions {
  databaseUrl: string;
  repo: Repository;
  env: string;
  jobs: number;
}

/** TABLE DATA entries of a dump's table of contents, as "schema.table". */
export async function tocTables(dumpDir: string): Promise<string[]> {
  const list = await $`${pgBin('pg_restore')} --list ${dumpDir}`;
  return list.stdout
    .split('\n')
    .filter((line) => / TABLE DATA /.test(line) && !line.startsWith(';'))
    .map((line) => {
      const parts = line.split(' TABLE DATA ')[1]!.trim().split(' ');
      return `${parts[0]}.${parts[1]}`;
    });
}

/**
 * pg_dump directory format in parallel, from an exported snapshot; the
 * fingerprints are taken in the same snapshot, so they describe exactly
 * the rows in the dump.
 */
export async function logicalBackup(run: Run, opts: LogicalBackupOptions): Promise<Manifest> {
  const startedAt = new Date();
  const id = newBackupId('postgres', 'logical', startedAt);
  const holder = await run.step('connect', () => connect(opts.databaseUrl), { readOnly: true });
  run.onCleanup(() => holder.end().catch(() => undefined));
  const info = await serverInfo(holder);
  const tables = await listTables(holder);
  const staging = stagingDir(opts.repo.stagingRoot?.() ?? path.join(stateRoot(), 'tmp'), id);
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));

  const dumped = await run.step('dump and fingerprint (one snapshot)', async (step) => {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await holder.query<{ snapshot: string; at: Date }>('SELECT pg_export_snapshot() AS snapshot, now() AS at');
    const { snapshot, at } = rows[0]!;
    const { conninfo, env } = libpqConnection(opts.databaseUrl);
    fs.mkdirSync(path.dirname(staging), { recursive: true });
    // -Z1: fast gzip; most of pg_dump's CPU goes to compression.
    const dump = $({ env: { ...process.env, ...env } })`${pgBin('pg_dump')} --format=directory --jobs=${opts.jobs} --compress=1 --snapshot=${snapshot} --no-password --file=${staging} --dbname=${conninfo}`;
    const fingerprinting = (async () => {
      const out: TableFingerprint[] = [];
      for (const table of tables) out.push(await fingerprintTable(holder, table, { newestAsOf: at, inTransaction: true }));
      // Chunks, compressed chunks, aggregates and jobs as of the same snapshot.
      return { out, timescale: await timescaleInventory(holder) };
    })();
    let fingerprints: TableFingerprint[];
    let timescale: TimescaleInventory | null;
    try {
      [, { out: fingerprints, timescale }] = await Promise.all([dump, fingerprinting]);
    } catch (error) {
      dump.catch(() => undefined);
      await dump.kill().catch(() => undefined);
      throw error;
    }
    await holder.query('COMMIT');
    step.record({ tables: tables.length, snapshot });
    return { fingerprints, snapshotAt: at, timescale };
  }, { detail: `pg_dump -Fd -j${opts.jobs}`, dryRunResult: { fingerprints: [], snapshotAt: startedAt, timescale: null } });
  if (run.dryRun) return undefined as unknown as Manifest;

  await run.step('check dump is readable (pg_restore --list)', async () => {
    const inToc = new Set(await tocTables(staging));
    const missing = dumped.fingerprints.filter((f) => !inToc.has(f.table)).map((f) => f.table);
    if (missing.length) throw new VerificationError(`the dump's table of contents lacks: ${missing.join(', ')}`);
  });

  const files = await run.step('upload to repository', async (step) => {
    const uploaded = await uploadDir(opts.repo, `${backupPrefix(opts.env, 'postgres', id)}/dump`, staging);
    const bytes = uploaded.reduce((sum, f) => sum + f.size, 0);
    step.record({ files: uploaded.length, bytes });
    step.note(`${uploaded.length} files, ${(bytes / 1048576).toFixed(1)} MiB → ${opts.repo.url}`);
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
    files,
    tables: dumped.fingerprints.map(({ table, rows, hash, algo }) => ({ table, rows, hash, algo })),
    details: { snapshotAt: dumped.snapshotAt.toISOString(), database: new URL(opts.databaseUrl).pathname.slice(1), format: 'directory', ...(dumped.timescale ? { timescale: dumped.timescale } : {}) },
    checks: ['pg_restore --list reads the table of contents', 'every fingerprinted table has a TABLE DATA entry', 'sha256 of every file'],
  };
  await run.step('write manifest', () => writeManifest(opts.repo, manifest));
  return manifest;
}
