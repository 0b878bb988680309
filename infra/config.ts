import * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';

/** A container image reference pinned to a tag or digest (never implicit or :latest). */
export const pinnedImage = z
  .string()
  .regex(/^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/, 'must name an image with a tag or digest')
  .refine((ref) => !/:latest$/.test(ref), 'must be pinned: ":latest" is not allowed');

/** What the tests run: PostgreSQL 15 with TimescaleDB 2.28.x (issue 11). */
export const TIMESCALEDB_IMAGE = 'timescale/timescaledb-ha:pg15.18-ts2.28.3-all';

const cron = z.string().regex(/^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/, 'must be an EventBridge cron(m h dom mon dow year) expression');

/** Seed 004's schedule: what is backed up when, and for how long it is kept. */
const backupsSchema = z
  .object({
    postgres: z.object({ cron: cron.default('cron(0 3 * * ? *)'), retentionDays: z.number().int().positive().default(30) }).default({ cron: 'cron(0 3 * * ? *)', retentionDays: 30 }),
    wal: z.object({ retentionDays: z.number().int().positive().default(7) }).default({ retentionDays: 7 }),
    qdrant: z.object({ cron: cron.default('cron(0 4 * * ? *)'), retentionDays: z.number().int().positive().default(30) }).default({ cron: 'cron(0 4 * * ? *)', retentionDays: 30 }),
    redis: z.object({ cron: cron.default('cron(0 5 * * ? *)'), retentionDays: z.number().int().positive().default(7) }).default({ cron: 'cron(0 5 * * ? *)', retentionDays: 7 }),
    /** Upkeep: re-verify the newest backup, prune past retention, and a weekly restore drill. */
    verifyCron: cron.default('cron(0 6 * * ? *)'),
    pruneCron: cron.default('cron(30 6 * * ? *)'),
    drillCron: cron.default('cron(0 7 ? * SUN *)'),
    /** Alarm when the newest good backup of a store is older than this. */
    freshnessHours: z.number().positive().default(26),
    timezone: z.literal('UTC').default('UTC'),
    noncurrentVersionDays: z.number().int().positive().default(7),
    /** Object Lock (COMPLIANCE mode) default retention; off when omitted. */
    objectLockDays: z.number().int().positive().optional(),
  })
  .prefault({});

const dockerSchema = z.object({
  images: z.object({
    timescaledb: pinnedImage.default(TIMESCALEDB_IMAGE),
    qdrant: pinnedImage.default('qdrant/qdrant:v1.12.4'),
    redis: pinnedImage.default('redis:7.2.6-bookworm'),
    minio: pinnedImage.default('minio/minio:RELEASE.2024-11-07T00-52-20Z'),
    mc: pinnedImage.default('minio/mc:RELEASE.2024-11-05T11-29-45Z'),
  }).prefault({}),
  ports: z.object({ postgres: z.number().default(55432), redis: z.number().default(56379), qdrant: z.number().default(56333), minio: z.number().default(59000) }).prefault({}),
});

const awsSchema = z.object({
  region: z.string().regex(/^[a-z]{2}-[a-z]+-\d$/, 'must be an AWS region such as eu-west-1'),
  vpcId: z.string().startsWith('vpc-'),
  subnetIds: z.array(z.string().startsWith('subnet-')).min(2, 'needs two private subnets (ElastiCache, Fargate)'),
  allowedCidrs: z.array(z.string()).default(['10.0.0.0/8']),
  amiId: z.string().startsWith('ami-'),
  database: z
    .discriminatedUnion('mode', [
      z.object({ mode: z.literal('ec2'), instanceType: z.string().default('m6i.large'), volumeGiB: z.number().int().min(20).default(200), image: pinnedImage.default(TIMESCALEDB_IMAGE) }),
      z.object({ mode: z.literal('external'), host: z.string(), port: z.number().default(5432) }),
    ])
    .prefault({ mode: 'ec2' }),
  qdrant: z.object({ instanceType: z.string().default('r6i.large'), volumeGiB: z.number().int().min(10).default(100), image: pinnedImage.default('qdrant/qdrant:v1.12.4') }).prefault({}),
  cache: z.object({ nodeType: z.string().default('cache.t4g.small'), engineVersion: z.string().default('7.1'), snapshotRetentionDays: z.number().int().min(1).max(35).default(7) }).prefault({}),
  /** Pinned by digest: CI's image job prints the digest it pushed. */
  runbookImage: z.string().regex(/^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[a-f0-9]{64}$/, 'must be pinned by digest (repo@sha256:…); CI prints it'),
  /** The only role allowed to change the backup bucket's lifecycle/policy/lock, or delete/disable KMS keys. */
  breakGlassRoleArn: z.string().regex(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN'),
  /** Who hears about failed runs, stale backups and WAL archive failures. */
  alarmEmail: z.string().email().optional(),
  /** Fargate ephemeral storage for the runbook tasks (21-200 GiB): dumps are staged here. */
  taskStorageGiB: z.number().int().min(21).max(200).default(100),
});

const dbObjectsSchema = z.object({
  host: z.string(),
  port: z.number().default(5432),
  database: z.string().default('tickvault'),
  username: z.string(),
  sslmode: z.enum(['disable', 'require', 'verify-full']).default('require'),
  schemas: z.array(z.string()).default(['market', 'trading']),
  timescaledb: z.boolean().default(true),
});

export const configSchema = z.object({
  target: z.enum(['docker', 'aws']),
  tags: z.record(z.string(), z.string()).default({}),
  backups: backupsSchema,
  docker: dockerSchema.optional(),
  aws: awsSchema.optional(),
  dbObjects: dbObjectsSchema.optional(),
});

export type TickvaultConfig = z.infer<typeof configSchema> & { stack: string; secrets: { dbObjectsPassword?: pulumi.Output<string> } };

export class InfraConfigError extends Error {}

/** Validate raw values; an error names the key as `tickvault:<path>`. */
export function parseConfig(raw: Record<string, unknown>): z.infer<typeof configSchema> {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InfraConfigError(`tickvault:${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const config = result.data;
  if (config.target === 'aws' && !config.aws) throw new InfraConfigError('tickvault:aws: required when target is aws');
  return config;
}

const OBJECT_KEYS = ['tags', 'backups', 'docker', 'aws', 'dbObjects'] as const;

/** The stack's config, loaded once. */
export function loadConfig(): TickvaultConfig {
  const cfg = new pulumi.Config('tickvault');
  const raw: Record<string, unknown> = { target: cfg.get('target') };
  for (const key of OBJECT_KEYS) {
    const value = cfg.getObject<unknown>(key);
    if (value !== undefined) raw[key] = value;
  }
  const config = parseConfig(raw);
  return {
    ...config,
    stack: pulumi.getStack(),
    tags: { project: 'tickvault', stack: pulumi.getStack(), 'managed-by': 'pulumi', ...config.tags },
    // Store passwords are generated (random.RandomPassword), never configured.
    secrets: { dbObjectsPassword: cfg.getSecret('dbObjectsPassword') },
  };
}
