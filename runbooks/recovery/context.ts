import type { Settings } from '../engine/config';
import { repositoryEnv, repoUrl, validated } from '../engine/config';
import { openRepository, type Repository } from '../repository/repository';

export interface RecoveryContext {
  repo: Repository;
  /** Backups are kept under <env>/ in the repository. */
  env: string;
}

export function recoveryContext(settings: Settings, repoFlag?: string): RecoveryContext {
  const url = validated('BACKUP_REPO', repoUrl, settings.require('BACKUP_REPO', repoFlag, '--repo'));
  const repo = openRepository(url, repositoryEnv(settings));
  return { repo, env: settings.get('TICKVAULT_ENV') ?? 'default' };
}
