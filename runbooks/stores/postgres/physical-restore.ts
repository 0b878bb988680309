import { ConfigError } from '../../engine/errors';
import type { Run } from '../../engine/run';
import { databaseName } from './binaries';
import { withClient } from './connect';
import { fingerprintTable, listTables, newestOf } from './fingerprint';
import { restoreFilePercent } from './pgbackrest-progress';
import { archivedWalEnd, pgbackrest, pgbackrestInfo, type PgBackRestTarget } from './pgbackrest';
import { checkTargetTime, pitrWindow, segmentEndLsn } from './pitr-window';
import { asRecoveryFailure, waitForPromotion } from './recovery-watch';

/**
 * Where a physical restore's new cluster comes from. recovery/ injects it
 * (locally: a data directory under the local stack, started on a free port);
 * stores/ knows nothing of how servers are run.
 */
export interface ClusterProvisioner {
  /** A new, empty data directory the server's OS user owns. */
  newDataDir(): Promise<{ name: string; dataDir: string }>;
  /** Start the restored data directory (archiving off) on a free port; the URL reaches `database` as the source's user. */
  start(restored: { name: string; dataDir: string }, login: { user: string; password: string; database: string }): Promise<{ port: number; url: string; logFile: string; passwordFile?: string }>;
}

export interface PhysicalRestoreOptions {
  pgbackrest: PgBackRestTarget;
  /** The source URL: user, password and database name of the restored copy. */
  sourceUrl: string;
  /** Restore this backup set to its consistent end... */
  label?: string;
  /** ...or replay WAL up to this time... */
  toTime?: Date;
  /** ...else replay all archived WAL (latest). */
  provisioner: ClusterProvisioner;
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
  /** The consistency point of what was restored (RPO is measured from it), with how it was found. */
  recoveryPoint: { at: string | null; basis: string };
  lastReplayedCommit: string | null;
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

  const recoveryTarget = opts.toTime ? `time ${opts.toTime.toISOString()}` : opts.label ? `end of ${opts.label}` : 'end of archived WAL';
  const args = ['restore', '--archive-mode=off'];
  if (opts.toTime) args.push('--type=time', `--target=${pgbackrestTime(opts.toTime)}`, '--target-action=promote');
  else if (opts.label) args.push(`--set=${opts.label}`, '--type=immediate', '--target-action=promote');

  const restored = await run.step('pgbackrest restore (checksums checked per file)', async (step) => {
    run.markChanged();
    const dir = await opts.provisioner.newDataDir();
    step.note(`${recoveryTarget} → new data directory ${dir.dataDir}`);
    // Progress by bytes: with detail logging pgBackRest prints each file with its running percentage.
    await pgbackrest(opts.pgbackrest, [...args, `--pg1-path=${dir.dataDir}`, '--log-level-console=detail'], { onOutputLine: (line) => restoreFilePercent(line, (pct) => step.progress(pct, 100, '% of bytes')) });
    step.progress(100, 100, '% of bytes');
    return dir;
  }, { detail: recoveryTarget, dryRunResult: { name: '', dataDir: '' } });
  if (run.dryRun) return { targetUrl: '', dataDir: '', port: 0, tables: 0, rows: 0, newestData: null, recoveryTarget, recoveryPoint: { at: null, basis: 'dry run' }, lastReplayedCommit: null };

  const source = new URL(opts.sourceUrl);
  const started = await run.step('start restored cluster and wait for promotion', async (step) => {
    const server = await opts.provisioner.start(restored, { user: decodeURIComponent(source.username), password: decodeURIComponent(source.password), database: databaseName(opts.sourceUrl) }).catch((error: unknown) => {
      throw asRecoveryFailure(error, restored.dataDir);
    });
    const replay = await waitForPromotion({ url: server.url, dataDir: restored.dataDir, logFile: server.logFile, endLsn, progress: step.progress });
    step.record({ replayedLsn: replay.replayedLsn, lastReplayedCommit: replay.lastReplayedCommit?.toISOString() });
    step.note(`port ${server.port}`);
    return server;
  });
  const targetUrl = started.url;
  const connect = connectHint(restored.name, targetUrl, started.passwordFile);
  run.info(connect.hint);
  run.report({ connect });

  const checked = await run.step('verify tables are readable', async (step) => {
    const asOf = opts.toTime ?? new Date();
    return withClient(targetUrl, async (client) => {
      const tables = await listTables(client);
      const prints = [];
      for (const table of tables) prints.push(await fingerprintTable(client, table, { newestAsOf: asOf }));
      const rows = prints.reduce((sum, p) => sum + p.rows, 0);
      const replayed = await client.query<{ at: string | null }>(`SELECT to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`);
      step.note(`${tables.length} tables, ${rows.toLocaleString('en-US')} rows`);
      return { tables: tables.length, rows, newestData: newestOf(prints), lastReplayedCommit: replayed.rows[0]?.at ?? null };
    });
  });
  const recoveryPoint = await run.step('find the recovery point', () => physicalRecoveryPoint(opts, checked.lastReplayedCommit), { readOnly: true });
  return { targetUrl, dataDir: restored.dataDir, port: started.port, ...checked, recoveryTarget, recoveryPoint };
}

/**
 * PITR: the recovery target (PostgreSQL stops with an error if WAL ends
 * before it). A backup set: its end. All archived WAL: the last replayed
 * commit or the time the newest WAL segment was archived, whichever is
 * later (a quiet database commits nothing, yet loses nothing either).
 */
async function physicalRecoveryPoint(opts: PhysicalRestoreOptions, lastCommit: string | null): Promise<{ at: string | null; basis: string }> {
  if (opts.toTime) return { at: opts.toTime.toISOString(), basis: 'recovery target time' };
  const info = await pgbackrestInfo(opts.pgbackrest);
  if (opts.label) {
    const set = info.backup.find((b) => b.label === opts.label);
    return set ? { at: new Date(set.timestamp.stop * 1000).toISOString(), basis: `end of backup ${opts.label}` } : { at: lastCommit, basis: lastCommit ? 'last replayed commit' : 'unknown: backup set not found' };
  }
  const walEnd = await archivedWalEnd(opts.pgbackrest);
  const newestBackup = info.backup.at(-1);
  const candidates = [
    ...(lastCommit ? [{ at: lastCommit, basis: 'last replayed commit' }] : []),
    ...(walEnd ? [{ at: walEnd.toISOString(), basis: 'end of archived WAL (newest segment archived)' }] : []),
    ...(newestBackup ? [{ at: new Date(newestBackup.timestamp.stop * 1000).toISOString(), basis: `end of backup ${newestBackup.label}` }] : []),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return candidates.at(-1) ?? { at: null, basis: 'unknown: no commit replayed, no archived WAL time, no backup' };
}

/** How an operator reaches the restored cluster, without the password on screen. */
function connectHint(name: string, url: string, passwordFile: string | undefined) {
  const u = new URL(url);
  const conninfo = `host=${u.hostname} port=${u.port} user=${decodeURIComponent(u.username)} dbname=${decodeURIComponent(u.pathname.slice(1))}`;
  const env = passwordFile ? `PGPASSFILE=${passwordFile} ` : '';
  const hint = `restored cluster ${name}: ${env}psql "${conninfo}"${passwordFile ? ` (password in ${passwordFile}, mode 0600)` : ''}; stop it with "tickvault local stop ${name}"`;
  return { cluster: name, conninfo, passwordFile: passwordFile ?? null, hint };
}
