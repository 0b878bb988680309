import type { TickvaultConfig } from '../config';

/** One expiry rule: objects under `prefix` go after `days`. */
export interface RetentionRule {
  id: string;
  prefix: string;
  days: number;
}

/**
 * The backup repository layout (`<env>/<store>/…`, pgBackRest under
 * `pgbackrest/`) mapped to seed 004's retention. Prod (S3 lifecycle) and dev
 * (MinIO ILM) both derive their rules from here.
 */
export function retentionRules(backups: TickvaultConfig['backups'], env: string): RetentionRule[] {
  return [
    { id: 'postgres-logical', prefix: `${env}/postgres/`, days: backups.postgres.retentionDays },
    { id: 'pgbackrest-backups', prefix: 'pgbackrest/backup/', days: backups.postgres.retentionDays },
    { id: 'pgbackrest-wal', prefix: 'pgbackrest/archive/', days: backups.wal.retentionDays },
    { id: 'qdrant', prefix: `${env}/qdrant/`, days: backups.qdrant.retentionDays },
    { id: 'redis', prefix: `${env}/redis/`, days: backups.redis.retentionDays },
  ];
}

export const BACKED_UP_STORES = ['postgres', 'qdrant', 'redis'] as const;
