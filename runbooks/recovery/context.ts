import type { Settings } from '../engine/config';
import { repoUrl, validated } from '../engine/config';
import { openRepository, type Repository } from '../repository/repository';

export interface RecoveryContext {
  repo: Repository;
  /** Backups are kept under <env>/ in the repository. */
  env: string;
}

export function recoveryContext(settings: Settings, repoFlag?: string): RecoveryContext {
  const url = validated('BACKUP_REPO', repoUrl, settings.require('BACKUP_REPO', repoFlag, '--repo'));
  const repo = openRepository(url, {
    S3_ENDPOINT: settings.get('S3_ENDPOINT'),
    AWS_REGION: settings.get('AWS_REGION'),
    AWS_ACCESS_KEY_ID: settings.get('AWS_ACCESS_KEY_ID'),
    AWS_SECRET_ACCESS_KEY: settings.get('AWS_SECRET_ACCESS_KEY'),
  });
  return { repo, env: settings.get('TICKVAULT_ENV') ?? 'default' };
}
