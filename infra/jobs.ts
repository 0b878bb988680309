/**
 * The scheduled runbook jobs, defined once for both stacks: prod runs each
 * as an EventBridge Scheduler → ECS Fargate task, dev runs the same list in
 * its scheduler container (infra/scheduler/dev-scheduler.ts).
 *
 * Each job names the settings it reads. Prod turns every name into a task
 * `environment` or `secrets` entry and nothing else, and the contract test
 * (test/infra/task-contract.test.ts) runs the job with exactly those names.
 */
import type { TickvaultConfig } from './config';

/** Settings a job may read; `secret` ones come from Secrets Manager in prod. */
export type JobSetting =
  | { name: 'DATABASE_URL'; secret: true }
  | { name: 'SCRATCH_DATABASE_URL'; secret: true }
  | { name: 'REDIS_URL'; secret: true }
  | { name: 'QDRANT_URL'; secret: false }
  | { name: 'QDRANT_API_KEY'; secret: true }
  | { name: 'ELASTICACHE_REPLICATION_GROUP'; secret: false }
  | { name: 'BACKUP_REPO'; secret: false }
  | { name: 'TICKVAULT_ENV'; secret: false }
  | { name: 'TICKVAULT_METRICS'; secret: false }
  | { name: 'TICKVAULT_RETENTION_DAYS'; secret: false };

export type SettingName = JobSetting['name'];

export interface RunbookJob {
  /** Short id: names the schedule, task family and alarm. */
  readonly id: string;
  readonly description: string;
  /** EventBridge cron (UTC); the dev scheduler reads the same expression. */
  readonly cron: string;
  /** argv after the entrypoint. */
  readonly command: string[];
  /** Replaces the image's entrypoint (`npx tsx`) when set. */
  readonly entryPoint?: string[];
  readonly settings: readonly JobSetting[];
}

const common: JobSetting[] = [
  { name: 'BACKUP_REPO', secret: false },
  { name: 'TICKVAULT_ENV', secret: false },
  { name: 'TICKVAULT_METRICS', secret: false },
];
const DATABASE_URL: JobSetting = { name: 'DATABASE_URL', secret: true };

/** Drop last week's scratch database, then restore the newest backup into it (verified by the runbook). */
export const DRILL_SCRIPT = [
  'set -eu',
  'db="${SCRATCH_DATABASE_URL##*/}"; db="${db%%\\?*}"',
  'dropdb --if-exists --force --maintenance-db="$DATABASE_URL" "$db"',
  'exec npx tsx runbooks/restore.ts postgres --latest --target-url "$SCRATCH_DATABASE_URL" --yes --json',
].join('\n');

/** Seed 004's schedule plus upkeep: verify daily, prune daily, a weekly restore drill. */
export function runbookJobs(backups: TickvaultConfig['backups'], redisMode: 'elasticache' | 'server'): RunbookJob[] {
  return [
    {
      id: 'backup-postgres',
      description: 'logical backup of PostgreSQL',
      cron: backups.postgres.cron,
      command: ['runbooks/backup.ts', 'postgres', '--json'],
      settings: [...common, DATABASE_URL],
    },
    {
      id: 'backup-qdrant',
      description: 'snapshots of every Qdrant collection',
      cron: backups.qdrant.cron,
      command: ['runbooks/backup.ts', 'qdrant', '--json'],
      settings: [...common, { name: 'QDRANT_URL', secret: false }, { name: 'QDRANT_API_KEY', secret: true }],
    },
    {
      id: 'backup-redis',
      description: redisMode === 'elasticache' ? 'ElastiCache snapshot exported to the bucket' : 'RDB backup of Redis',
      cron: backups.redis.cron,
      command: ['runbooks/backup.ts', 'redis', '--json'],
      settings: redisMode === 'elasticache' ? [...common, { name: 'ELASTICACHE_REPLICATION_GROUP', secret: false }] : [...common, { name: 'REDIS_URL', secret: true }],
    },
    {
      id: 'verify-postgres',
      description: 're-read the newest PostgreSQL backup and check every sha256',
      cron: backups.verifyCron,
      command: ['runbooks/backup.ts', 'verify', 'latest', '--store', 'postgres', '--json'],
      settings: common,
    },
    {
      id: 'prune',
      description: 'delete backups past retention that a newer good backup covers',
      cron: backups.pruneCron,
      command: ['runbooks/backup.ts', 'prune', '--yes', '--json'],
      settings: [...common, { name: 'TICKVAULT_RETENTION_DAYS', secret: false }],
    },
    {
      id: 'drill-restore',
      description: 'weekly restore drill: newest PostgreSQL backup into the scratch database, verified',
      cron: backups.drillCron,
      // The scratch database is dropped first: a logical restore refuses a non-empty target.
      entryPoint: ['sh', '-c'],
      command: [DRILL_SCRIPT],
      // restore.ts publishes no freshness: no TICKVAULT_METRICS (the contract test holds every name to a reader).
      settings: [{ name: 'BACKUP_REPO', secret: false }, { name: 'TICKVAULT_ENV', secret: false }, DATABASE_URL, { name: 'SCRATCH_DATABASE_URL', secret: true }],
    },
  ];
}
