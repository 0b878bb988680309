import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { BackupAlarms } from '../components/backup-alarms';
import { BackupBucket } from '../components/backup-bucket';
import { BackupSchedule } from '../components/backup-schedule';
import { Cache } from '../components/cache';
import { DbObjects } from '../components/db-objects';
import { EnvVault } from '../components/env-vault';
import { BACKED_UP_STORES } from '../components/retention';
import { generatedPassword, StoredSecret } from '../components/store-secrets';
import { TimescaleDb } from '../components/timescale-db';
import { VectorStore } from '../components/vector-store';
import { InfraConfigError, type TickvaultConfig } from '../config';
import { runbookJobs } from '../jobs';
import type { StackOutputs } from './outputs';

/** The database the weekly restore drill restores into (dropped and recreated each week). */
export const SCRATCH_DATABASE = 'tickvault_drill';

/** prod: every store on AWS, backed up on seed 004's schedule, watched by alarms. */
export function awsStack(config: TickvaultConfig): StackOutputs {
  if (!config.aws) throw new InfraConfigError('tickvault:aws: required when target is aws');
  const a = config.aws;
  const [subnetId] = a.subnetIds; // zod guarantees two
  if (subnetId === undefined) throw new InfraConfigError('tickvault:aws.subnetIds: needs two private subnets');
  const env = config.stack;
  // Tags once: the provider's defaultTags reach every taggable AWS resource.
  const provider = new aws.Provider('aws', { region: a.region as aws.Region, defaultTags: { tags: config.tags } });
  const opts = { provider };
  const accountId = aws.getCallerIdentityOutput({}, opts).accountId;
  const secret = (name: string, description: string, value: pulumi.Input<string>) => new StoredSecret(name, { description, value, stack: env }, opts);

  const backups = new BackupBucket('backups', {
    env,
    noncurrentVersionDays: config.backups.noncurrentVersionDays,
    ...(config.backups.objectLockDays !== undefined ? { objectLockDays: config.backups.objectLockDays } : {}),
    breakGlassRoleArn: a.breakGlassRoleArn,
    elasticacheExportPrefix: `${env}/redis/`,
    region: a.region,
    accountId,
  }, opts);
  const envVault = new EnvVault('env', { prefix: `/tickvault/${env}`, breakGlassRoleArn: a.breakGlassRoleArn }, opts);

  const qdrantKey = generatedPassword('qdrant-api-key-generated', 48);
  const qdrantKeySecret = secret('qdrant-api-key', 'Qdrant API key (QDRANT__SERVICE__API_KEY / QDRANT_API_KEY)', qdrantKey.result);
  const vectors = new VectorStore('qdrant', {
    vpcId: a.vpcId, subnetId, amiId: a.amiId, instanceType: a.qdrant.instanceType, volumeGiB: a.qdrant.volumeGiB, image: a.qdrant.image,
    allowedCidrs: a.allowedCidrs, region: a.region, apiKeySecretArn: qdrantKeySecret.arn,
  }, opts);

  const d = a.database;
  let database: TimescaleDb;
  let superuserUrl: (db: string) => pulumi.Output<string>;
  if (d.mode === 'external') {
    const url = new pulumi.Config('tickvault').getSecret('databaseUrl');
    if (!url) throw new InfraConfigError('tickvault:databaseUrl: required for an external database (pulumi config set --secret tickvault:databaseUrl postgres://…)');
    database = new TimescaleDb('timescale', { mode: 'external', host: d.host, port: d.port }, opts);
    superuserUrl = (db) => url.apply((u) => { const parsed = new URL(u); parsed.pathname = `/${db}`; return parsed.toString(); });
  } else {
    const password = generatedPassword('db-superuser-password', 32);
    const superuser = secret('db-superuser', 'PostgreSQL superuser password (read by the host at boot)', password.result);
    database = new TimescaleDb('timescale', {
      mode: 'ec2', vpcId: a.vpcId, subnetId, amiId: a.amiId, instanceType: d.instanceType, volumeGiB: d.volumeGiB, image: d.image,
      allowedCidrs: a.allowedCidrs, region: a.region, backupBucket: backups.bucket.bucket, backupBucketArn: backups.bucket.arn, kmsKeyArn: backups.kmsKeyArn,
      superuserSecretArn: superuser.arn, retentionFullDays: config.backups.postgres.retentionDays,
    }, opts);
    const host = database.host;
    superuserUrl = (db) => pulumi.secret(pulumi.interpolate`postgres://postgres:${password.result}@${host}:5432/${db}?sslmode=require`);
  }
  const databaseUrl = secret('database-url', 'DATABASE_URL for the runbooks', superuserUrl('tickvault'));
  const scratchUrl = secret('scratch-database-url', 'SCRATCH_DATABASE_URL: the weekly restore drill target', superuserUrl(SCRATCH_DATABASE));

  const cache = new Cache('cache', {
    vpcId: a.vpcId, subnetIds: a.subnetIds, allowedCidrs: a.allowedCidrs, nodeType: a.cache.nodeType, engineVersion: a.cache.engineVersion,
    snapshotRetentionDays: Math.min(a.cache.snapshotRetentionDays, config.backups.redis.retentionDays), snapshotWindow: '05:00-06:00',
    authToken: generatedPassword('redis-auth-token-generated', 64).result,
  }, opts);

  const backupRepo = pulumi.interpolate`s3://${backups.bucket.bucket}`;
  const schedule = new BackupSchedule('backup', {
    jobs: runbookJobs(config.backups, 'elasticache'),
    timezone: config.backups.timezone,
    image: a.runbookImage,
    vpcId: a.vpcId,
    subnetIds: a.subnetIds,
    region: a.region,
    bucketArn: backups.bucket.arn,
    kmsKeyArn: backups.kmsKeyArn,
    repoPrefix: `${env}/`,
    storageGiB: a.taskStorageGiB,
    values: {
      BACKUP_REPO: backupRepo,
      TICKVAULT_ENV: env,
      TICKVAULT_METRICS: 'cloudwatch:Tickvault/Backups',
      TICKVAULT_RETENTION_DAYS: String(config.backups.postgres.retentionDays),
      QDRANT_URL: vectors.url,
      ELASTICACHE_REPLICATION_GROUP: cache.replicationGroupId,
    },
    secretArns: { DATABASE_URL: databaseUrl.arn, SCRATCH_DATABASE_URL: scratchUrl.arn, QDRANT_API_KEY: qdrantKeySecret.arn },
    taskStatements: [
      // PutMetricData has no resource-level permissions: scoped by namespace instead.
      { Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'Tickvault/Backups' } } },
      {
        Effect: 'Allow',
        Action: ['elasticache:CreateSnapshot', 'elasticache:CopySnapshot', 'elasticache:DeleteSnapshot', 'elasticache:DescribeSnapshots'],
        Resource: [
          pulumi.interpolate`arn:aws:elasticache:${a.region}:${accountId}:replicationgroup:${cache.replicationGroupId}`,
          pulumi.interpolate`arn:aws:elasticache:${a.region}:${accountId}:cluster:${cache.replicationGroupId}-*`,
          pulumi.interpolate`arn:aws:elasticache:${a.region}:${accountId}:snapshot:tickvault-*`,
        ],
      },
    ],
  }, opts);

  const alarms = new BackupAlarms('alarms', {
    env,
    clusterArn: schedule.cluster.arn,
    deadLetterQueueName: schedule.deadLetterQueue.name,
    scheduleGroup: 'default',
    stores: BACKED_UP_STORES,
    freshnessHours: config.backups.freshnessHours,
    ...(database.logGroup ? { databaseLogGroup: database.logGroup.name } : {}),
    ...(a.alarmEmail ? { email: a.alarmEmail } : {}),
  }, opts);

  if (config.dbObjects) {
    const o = config.dbObjects;
    const password = config.secrets.dbObjectsPassword;
    if (!password) throw new InfraConfigError('tickvault:dbObjectsPassword: required with tickvault:dbObjects (the admin role it connects as)');
    new DbObjects('db', { host: o.host, port: o.port, database: o.database, username: o.username, password, sslmode: o.sslmode, schemas: o.schemas, timescaledb: o.timescaledb, superuser: false });
  }

  return {
    postgres: { host: database.host, port: database.port, url: superuserUrl('tickvault') },
    redis: { url: cache.url },
    qdrant: { url: vectors.url },
    s3: { bucket: backups.bucket.bucket, endpoint: `https://s3.${a.region}.amazonaws.com`, region: a.region },
    backupRepo,
    envVault: pulumi.interpolate`ssm:${envVault.prefix}`,
    alarmTopic: alarms.topic.arn,
  };
}
