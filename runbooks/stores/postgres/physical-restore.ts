import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../engine/errors';
import { localDir } from '../../engine/paths';
import type { Run } from '../../engine/run';
import { baseSettings, clusterUrl, socketDirFor, startCluster, writeClusterConf } from '../../local/postgres-cluster';
import { choosePort } from '../../local/process';
import { chownTree, serviceUser } from '../../local/service-user';
import { registerExtraCluster } from '../../local/state';
import { databaseName } from './binaries';
import { withClient } from './connect';
import { fingerprintTable, listTables, newestOf } from './fingerprint';
import { pgbackrest, pgbackrestInfo, type PgBackRestTarget } from './pgbackrest';
import { checkTargetTime, pitrWindow, segmentEndLsn } from './pitr-window';
import { waitForPromotion } from './recovery-watch';

export interface PhysicalRestoreOptions {
  pgbackrest: PgBackRestTarget;
  /** The source URL: user, password and database name of the restored copy. */
  sourceUrl: string;
  /** Restore this backup set to its consistent end... */
  label?: string;
  /** ...or replay WAL up to this time... */
  toTime?: Date;
  /** ...else replay all archived WAL (latest). */
}

/** pgBackRest wants "YYYY-MM-DD HH:MM:SS.mmm+00" (it reads a bare time as local). */
export const pgbackrestTime = (date: Date): string => `${date.toISOString().replace('T', ' ').replace('Z', '')}+00`;

export interface PhysicalRestoreResult {
  targetUrl: string;
  dataDir: string;
  port: number;
  tables: number;
  rows: number;
  newestData: string | null;
  recoveryTarget: string;
}

/**
 * pgBackRest restore into a new data directory (never over a live one),
 * started on a free port and registered so `local.ts down` stops it.
 */
export async function physicalRestore(run: Run, opts: PhysicalRestoreOptions): Promise<PhysicalRestoreResult> {
  const endLsn = await run.step('inspect pgBackRest repository', async (step) => {
    const found = await pgbackrestInfo(opts.pgbackrest);
    if (found.backup.length === 0) throw new ConfigError(`stanza "${opts.pgbackrest.stanza}" has no backups to restore`);
    if (opts.label && !found.backup.some((b) => b.label === opts.label)) throw new ConfigError(`pgBackRest set ${opts.label} is not in the repository (expired?)`);
    const window = await pitrWindow(opts.pgbackrest, found, opts.sourceUrl);
    // Test hook only: lets a test drive recovery past the archive to prove the watcher fails fast.
    if (opts.toTime && process.env.TICKVAULT_TEST_SKIP_PITR_WINDOW !== '1') checkTargetTime(opts.toTime, window);
    step.record({ backups: found.backup.length, archive: found.archive[0], window: { oldest: window.oldest.toISOString(), newest: window.newest?.toISOString() ?? null } });
    const lastSegment = found.archive.at(-1)?.max;
    return lastSegment ? segmentEndLsn(lastSegment) : undefined;
  }, { readOnly: true });

  const name = `restore-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${crypto.randomBytes(2).toString('hex')}`;
  const root = path.join(localDir(), 'restores', name);
  const dataDir = path.join(root, 'data');
  const recoveryTarget = opts.toTime ? `time ${opts.toTime.toISOString()}` : opts.label ? `end of ${opts.label}` : 'end of archived WAL';
  const args = ['restore', `--pg1-path=${dataDir}`, '--archive-mode=off'];
  if (opts.toTime) args.push('--type=time', `--target=${pgbackrestTime(opts.toTime)}`, '--target-action=promote');
  else if (opts.label) args.push(`--set=${opts.label}`, '--type=immediate', '--target-action=promote');

  const user = await serviceUser();
  await run.step('pgbackrest restore (checksums checked per file)', async () => {
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    fs.mkdirSync(dataDir, { mode: 0o700 });
    chownTree(root, user);
    await pgbackrest(opts.pgbackrest, args);
  }, { detail: `${recoveryTarget} → new data directory ${dataDir}` });
  if (run.dryRun) return { targetUrl: '', dataDir, port: 0, tables: 0, rows: 0, newestData: null, recoveryTarget };

  const port = await choosePort(undefined);
  const spec = { name, dataDir, port, socketDir: socketDirFor(path.join(root, 'run'), crypto.createHash('sha256').update(root).digest('hex').slice(0, 8)), logFile: path.join(root, 'postgres.log') };
  const source = new URL(opts.sourceUrl);
  const targetUrl = clusterUrl(port, decodeURIComponent(source.username), decodeURIComponent(source.password), databaseName(opts.sourceUrl));

  await run.step('start restored cluster and wait for promotion', async (step) => {
    writeClusterConf(dataDir, { ...baseSettings(spec), archive_mode: 'off' });
    chownTree(root, user);
    await startCluster(spec, user);
    registerExtraCluster(spec);
    const replay = await waitForPromotion({ url: targetUrl, dataDir, logFile: spec.logFile, endLsn, progress: step.progress });
    step.record({ replayedLsn: replay.replayedLsn, lastReplayedCommit: replay.lastReplayedCommit?.toISOString() });
    step.note(`port ${port}`);
  });

  const checked = await run.step('verify tables are readable', async (step) => {
    const asOf = opts.toTime ?? new Date();
    return withClient(targetUrl, async (client) => {
      const tables = await listTables(client);
      const prints = [];
      for (const table of tables) prints.push(await fingerprintTable(client, table, { newestAsOf: asOf }));
      const rows = prints.reduce((sum, p) => sum + p.rows, 0);
      step.note(`${tables.length} tables, ${rows.toLocaleString('en-US')} rows`);
      return { tables: tables.length, rows, newestData: newestOf(prints) };
    });
  });
  return { targetUrl, dataDir, port, ...checked, recoveryTarget };
}
