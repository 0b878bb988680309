import { Readable } from 'node:stream';
import type { Run } from '../../engine/run';
import { backupPrefix, writeManifest, type Manifest } from '../../repository/manifest';
import { startBackup } from '../../repository/writing-lease';
import type { Repository } from '../../repository/repository';
import { withClient } from './connect';
import { pgbackrest, pgbackrestInfo, pgbackrestVersion, type PgBackRestTarget } from './pgbackrest';
import { serverInfo, sourceIdentity } from './server-info';

export interface PhysicalBackupOptions {
  databaseUrl: string;
  pgbackrest: PgBackRestTarget;
  repo: Repository;
  env: string;
  type: 'full' | 'diff' | 'incr';
}

/**
 * A pgBackRest backup (checksummed in its own repo, WAL archived
 * continuously for PITR), recorded in the tickvault repository with a copy
 * of pgBackRest's backup.manifest so list/verify/prune/restore see it too.
 */
export async function physicalBackup(run: Run, opts: PhysicalBackupOptions): Promise<Manifest> {
  const startedAt = new Date();
  const id = await startBackup(run, opts.repo, opts.env, 'postgres', 'physical', startedAt);
  const { info, source } = await run.step('connect', () => withClient(opts.databaseUrl, async (c) => ({ info: await serverInfo(c), source: await sourceIdentity(c, opts.databaseUrl) })), { readOnly: true });

  await run.step('check WAL archiving (pgbackrest check)', async () => {
    await pgbackrest(opts.pgbackrest, ['check']);
  });

  const backup = await run.step(`pgbackrest backup --type=${opts.type}`, async (step) => {
    await pgbackrest(opts.pgbackrest, ['backup', `--type=${opts.type}`]);
    const latest = (await pgbackrestInfo(opts.pgbackrest)).backup.at(-1)!;
    step.note(`${latest.label}, ${(latest.info.repository.delta / 1048576).toFixed(1)} MiB stored`);
    return latest;
  }, { dryRunResult: undefined });
  if (run.dryRun) return undefined as unknown as Manifest;

  const file = await run.step('record pgBackRest manifest', async () => {
    const copy = await pgbackrest(opts.pgbackrest, ['repo-get', `backup/${opts.pgbackrest.stanza}/${backup.label}/backup.manifest`]);
    const stored = await opts.repo.put(`${backupPrefix(opts.env, 'postgres', id)}/pgbackrest/backup.manifest`, Readable.from([Buffer.from(copy.stdout)]));
    return { path: 'pgbackrest/backup.manifest', size: stored.size, sha256: stored.sha256 };
  });

  const manifest: Manifest = {
    formatVersion: 1,
    id,
    env: opts.env,
    store: 'postgres',
    kind: 'physical',
    tool: { name: 'pgbackrest', version: await pgbackrestVersion() },
    server: { version: info.version, extensions: info.extensions },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    dataUpTo: new Date(backup.timestamp.stop * 1000).toISOString(),
    // Restored alone (--backup), the set is consistent at its end.
    recoveryPoint: new Date(backup.timestamp.stop * 1000).toISOString(),
    source,
    files: [file],
    tables: [],
    details: {
      stanza: opts.pgbackrest.stanza,
      label: backup.label,
      type: backup.type,
      walStart: backup.archive.start,
      walStop: backup.archive.stop,
      backupStart: new Date(backup.timestamp.start * 1000).toISOString(),
      backupStop: new Date(backup.timestamp.stop * 1000).toISOString(),
      repoBytes: backup.info.repository.delta,
      database: new URL(opts.databaseUrl).pathname.slice(1),
    },
    checks: ['pgbackrest check (archiving works)', 'pgBackRest file checksums in its manifest', 'sha256 of the recorded manifest'],
  };
  await run.step('write manifest', () => writeManifest(opts.repo, manifest));
  return manifest;
}
