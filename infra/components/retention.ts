import type * as pulumi from '@pulumi/pulumi';

/**
 * One retention authority: the runbook's `backup.ts prune` decides which
 * backups go (never the newest good one), and pgBackRest's own retention
 * owns `pgbackrest/`. Lifecycle rules only clean up after them: they abort
 * stale multipart uploads and expire noncurrent versions under the runbook
 * repository's `<env>/` prefix, and never touch `pgbackrest/` (expiring
 * `archive.info` there would stop WAL archiving and fill the disk).
 */
export function lifecycleRules(env: string, noncurrentVersionDays: pulumi.Input<number>) {
  const prefix = `${env}/`;
  return [
    { id: 'abort-stale-uploads', status: 'Enabled', filter: { prefix }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
    { id: 'expire-noncurrent-versions', status: 'Enabled', filter: { prefix }, noncurrentVersionExpiration: { noncurrentDays: noncurrentVersionDays } },
  ];
}

export const BACKED_UP_STORES = ['postgres', 'qdrant', 'redis'] as const;
