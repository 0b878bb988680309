import type { Settings } from '../engine/config';
import { repoUrl, validated } from '../engine/config';
import { envName } from '../repository/ids';
import { openRepository, repositoryEnv, type Repository } from '../repository/repository';

export interface RecoveryContext {
  repo: Repository;
  /** Backups are kept under <env>/ in the repository. */
  env: string;
}

export function recoveryContext(settings: Settings, repoFlag?: string): RecoveryContext {
  const url = validated('BACKUP_REPO', repoUrl, settings.require('BACKUP_REPO', repoFlag, '--repo'));
  return { repo: openRepository(url, repositoryEnv(settings)), env: envName(settings.get('TICKVAULT_ENV') ?? 'default') };
}
