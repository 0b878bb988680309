import fs from 'node:fs';
import path from 'node:path';

/** Where the local stack's pgBackRest config, repo, logs and locks live. */
export interface PgBackRestLayout {
  configFile: string;
  repoPath: string;
  stanza: string;
}

export function pgbackrestLayout(baseDir: string, stanza = 'local'): PgBackRestLayout {
  return { configFile: path.join(baseDir, 'pgbackrest.conf'), repoPath: path.join(baseDir, 'repo'), stanza };
}

/**
 * A posix-repo config for one stanza. Full backups are kept by time, matching
 * the 30-day rolling policy; WAL needed by kept backups is kept with them.
 */
export function writePgBackRestConfig(
  layout: PgBackRestLayout,
  cluster: { dataDir: string; port: number; socketDir: string; superuser: string },
  retentionDays = 30,
): void {
  const base = path.dirname(layout.configFile);
  for (const dir of ['repo', 'log', 'lock', 'spool']) fs.mkdirSync(path.join(base, dir), { recursive: true, mode: 0o750 });
  const text = `# written by tickvault local stack
[global]
repo1-path=${layout.repoPath}
repo1-retention-full-type=time
repo1-retention-full=${retentionDays}
log-path=${path.join(base, 'log')}
lock-path=${path.join(base, 'lock')}
spool-path=${path.join(base, 'spool')}
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4
process-max=2

[${layout.stanza}]
pg1-path=${cluster.dataDir}
pg1-port=${cluster.port}
pg1-socket-path=${cluster.socketDir}
pg1-user=${cluster.superuser}
`;
  fs.writeFileSync(layout.configFile, text, { mode: 0o640 });
}

export const archiveCommand = (layout: PgBackRestLayout): string =>
  `pgbackrest --config=${layout.configFile} --stanza=${layout.stanza} archive-push %p`;
