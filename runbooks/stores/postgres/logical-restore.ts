import fs from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { ConfigError, VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import type { Run } from '../../engine/run';
import type { Manifest } from '../../repository/manifest';
import type { Repository } from '../../repository/repository';
import { downloadVerified, stagingDir } from '../../repository/transfer';
import { databaseName, libpqConnection, pgBin, withDatabase } from './binaries';
import { withClient } from './connect';
import { fingerprintTable } from './fingerprint';
import { serverInfo } from './server-info';
import { parseTableName } from './sql';
import { markRestored, prepareTarget, swapIntoPlace } from './target-database';

/** One command of a restore: SQL in the target, or a tool invocation. */
export type RestoreCommand = { kind: 'sql'; sql: string } | { kind: 'exec'; argv: string[] };

/**
 * The commands a logical restore issues, in order. With TimescaleDB in the
 * backup, Timescale's procedure: extension first, pre_restore, a serial
 * pg_restore (no parallel catalog restore, timescaledb#698), post_restore.
 */
export function logicalRestoreCommands(manifest: Manifest, opts: { dumpDir: string; conninfo: string; jobs: number }): RestoreCommand[] {
  const timescale = manifest.server.extensions.timescaledb;
  const pgRestore = (jobs: number): RestoreCommand => ({
    kind: 'exec',
    argv: [pgBin('pg_restore'), '--exit-on-error', '--no-password', `--jobs=${jobs}`, `--dbname=${opts.conninfo}`, opts.dumpDir],
  });
  if (!timescale) return [pgRestore(opts.jobs)];
  return [
    { kind: 'sql', sql: `CREATE EXTENSION IF NOT EXISTS timescaledb VERSION '${timescale.replace(/'/g, "''")}'` },
    { kind: 'sql', sql: 'SELECT timescaledb_pre_restore()' },
    pgRestore(1),
    { kind: 'sql', sql: 'SELECT timescaledb_post_restore()' },
  ];
}

export interface LogicalRestoreOptions {
  repo: Repository;
  manifest: Manifest;
  /** Where to restore; for in-place, a sibling of the original first. */
  targetUrl: string;
  inPlace: boolean;
  jobs: number;
}

export interface LogicalRestoreResult {
  targetUrl: string;
  tablesVerified: number;
  rowsVerified: number;
  previousDatabase?: string | null;
  resumed: boolean;
}

/** Compare every table's row count and content hash with the manifest. */
export async function verifyAgainstManifest(url: string, manifest: Manifest): Promise<{ tables: number; rows: number }> {
  return withClient(url, async (client) => {
    const problems: string[] = [];
    let rows = 0;
    for (const expected of manifest.tables) {
      try {
        const got = await fingerprintTable(client, parseTableName(expected.table));
        rows += got.rows;
        if (got.rows !== expected.rows) problems.push(`${expected.table}: ${got.rows} rows, backup had ${expected.rows}`);
        else if (got.hash !== expected.hash) problems.push(`${expected.table}: content hash differs`);
      } catch (error) {
        problems.push(`${expected.table}: ${(error as Error).message}`);
      }
    }
    if (problems.length) throw new VerificationError(`restored data does not match backup ${manifest.id}: ${problems.join('; ')}`, { problems });
    return { tables: manifest.tables.length, rows };
  });
}

export async function logicalRestore(run: Run, opts: LogicalRestoreOptions): Promise<LogicalRestoreResult> {
  const { manifest } = opts;
  const original = opts.targetUrl;
  const restoreUrl = opts.inPlace ? withDatabase(original, `${databaseName(original)}__tv_restore`.slice(0, 63)) : original;
  const staging = stagingDir(path.join(stateRoot(), 'tmp'), manifest.id);
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));

  await run.step('check server version', async (step) => {
    const target = await withClient(withDatabase(original, 'postgres'), serverInfo, 'target (maintenance database "postgres")');
    const sourceMajor = Number(manifest.server.version.split('.')[0]);
    const targetMajor = Math.floor(target.versionNum / 10000);
    step.record({ source: manifest.server.version, target: target.version });
    if (targetMajor < sourceMajor) throw new ConfigError(`the target runs PostgreSQL ${target.version}, older than the backup's ${manifest.server.version}`);
    if (manifest.server.extensions.timescaledb && !target.extensions.timescaledb) {
      const available = await withClient(withDatabase(original, 'postgres'), (c) => c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"));
      if (!available.rowCount) throw new ConfigError('the backup uses TimescaleDB but the target server does not offer the extension');
    }
  }, { readOnly: true });

  await run.step('download and check sha256 of every file', async (step) => {
    await downloadVerified(opts.repo, manifest, staging, (done, total) => step.progress(done, total, 'files'));
    step.note(`${manifest.files.length} files match the manifest`);
  }, { readOnly: true });
  if (run.dryRun) {
    await run.step('restore', async () => undefined, { detail: `into ${databaseName(restoreUrl)}${opts.inPlace ? ', then swap into place' : ''}` });
    return { targetUrl: original, tablesVerified: 0, rowsVerified: 0, resumed: false };
  }

  const prepared = await run.step('prepare target database', async (step) => {
    const result = await prepareTarget(restoreUrl, manifest.id);
    step.note(result.resumed ? 'recreated after an interrupted restore' : result.created ? 'created' : 'empty, ready');
    return result;
  });

  const dumpDir = path.join(staging, 'dump');
  const { conninfo, env } = libpqConnection(restoreUrl);
  const commands = logicalRestoreCommands(manifest, { dumpDir, conninfo, jobs: opts.jobs });
  await run.step('pg_restore', async () => {
    for (const command of commands) {
      if (command.kind === 'sql') await withClient(restoreUrl, (c) => c.query(command.sql));
      else await $({ env: { ...process.env, ...env } })`${command.argv}`;
    }
  }, { detail: `${commands.length} commands${manifest.server.extensions.timescaledb ? ' (TimescaleDB order)' : ''}` });

  const verified = await run.step('verify row counts and content hashes', async (step) => {
    const result = await verifyAgainstManifest(restoreUrl, manifest);
    step.note(`${result.tables} tables, ${result.rows.toLocaleString('en-US')} rows match`);
    return result;
  });
  await markRestored(restoreUrl, manifest.id);

  let previousDatabase: string | null | undefined;
  if (opts.inPlace) {
    previousDatabase = await run.step('swap into place', async (step) => {
      const { previous } = await swapIntoPlace(original, databaseName(restoreUrl));
      step.note(previous ? `the replaced database is kept as "${previous}"` : 'the original database did not exist');
      return previous;
    });
  }
  return { targetUrl: original, tablesVerified: verified.tables, rowsVerified: verified.rows, previousDatabase, resumed: prepared.resumed };
}
