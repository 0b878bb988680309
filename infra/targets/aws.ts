import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { BackupBucket } from '../components/backup-bucket';
import { BackupSchedule } from '../components/backup-schedule';
import { Cache } from '../components/cache';
import { DbObjects } from '../components/db-objects';
import { EnvVault } from '../components/env-vault';
import { BACKED_UP_STORES, retentionRules } from '../components/retention';
import { TimescaleDb } from '../components/timescale-db';
import { VectorStore } from '../components/vector-store';
import { InfraConfigError, type TickvaultConfig } from '../config';
import type { StackOutputs } from './outputs';

/** prod: every store on AWS, backed up on seed 004's schedule. */
export function awsStack(config: TickvaultConfig): StackOutputs {
  const a = config.aws!;
  const { tags } = config;
  if (!config.secrets.redisAuthToken) throw new InfraConfigError('tickvault:redisAuthToken: required (pulumi config set --secret tickvault:redisAuthToken …)');
  if (a.database.mode === 'ec2' && !config.secrets.dbPassword) throw new InfraConfigError('tickvault:dbPassword: required for the EC2 database (pulumi config set --secret)');
  const provider = new aws.Provider('aws', { region: a.region as aws.Region, defaultTags: { tags } });
  const opts = { provider };

  const backups = new BackupBucket('backups', {
    rules: retentionRules(config.backups, config.stack),
    noncurrentVersionDays: config.backups.noncurrentVersionDays,
    ...(config.backups.objectLockDays ? { objectLockDays: config.backups.objectLockDays } : {}),
    tags,
  }, opts);
  const envVault = new EnvVault('env', { prefix: `/tickvault/${config.stack}`, tags }, opts);

  const database = new TimescaleDb('timescale', a.database.mode === 'external'
    ? { mode: 'external', host: a.database.host, port: a.database.port }
    : {
        mode: 'ec2',
        vpcId: a.vpcId,
        subnetId: a.subnetIds[0]!,
        amiId: a.amiId,
        instanceType: a.database.instanceType,
        volumeGiB: a.database.volumeGiB,
        image: a.database.image,
        allowedCidrs: a.allowedCidrs,
        backupBucket: backups.bucket.bucket,
        backupBucketArn: backups.bucket.arn,
        kmsKeyArn: backups.kmsKeyArn,
        superuserPassword: config.secrets.dbPassword!,
        tags,
      }, opts);
  const vectors = new VectorStore('qdrant', { vpcId: a.vpcId, subnetId: a.subnetIds[0]!, amiId: a.amiId, instanceType: a.qdrant.instanceType, volumeGiB: a.qdrant.volumeGiB, image: a.qdrant.image, allowedCidrs: a.allowedCidrs, tags }, opts);
  const cache = new Cache('cache', {
    vpcId: a.vpcId,
    subnetIds: a.subnetIds,
    allowedCidrs: a.allowedCidrs,
    nodeType: a.cache.nodeType,
    engineVersion: a.cache.engineVersion,
    snapshotRetentionDays: Math.min(a.cache.snapshotRetentionDays, config.backups.redis.retentionDays),
    snapshotWindow: '05:00-06:00',
    authToken: config.secrets.redisAuthToken,
    tags,
  }, opts);

  const postgresUrl = pulumi.secret(pulumi.interpolate`postgres://postgres:${config.secrets.dbPassword ?? ''}@${database.host}:${database.port}/tickvault`);
  const backupRepo = pulumi.interpolate`s3://${backups.bucket.bucket}`;
  new BackupSchedule('backup', {
    backups: BACKED_UP_STORES.map((store) => ({ store, cron: config.backups[store].cron })),
    timezone: config.backups.timezone,
    image: a.runbookImage,
    vpcId: a.vpcId,
    subnetIds: a.subnetIds,
    bucketArn: backups.bucket.arn,
    kmsKeyArn: backups.kmsKeyArn,
    // Secrets reach the task as plain env in its definition; move them to Secrets Manager refs when that lands.
    environment: { TICKVAULT_ENV: config.stack, BACKUP_REPO: backupRepo, AWS_REGION: a.region, QDRANT_URL: vectors.url, TICKVAULT_RETENTION_DAYS: String(config.backups.postgres.retentionDays) },
    tags,
  }, opts);

  if (config.dbObjects) {
    const d = config.dbObjects;
    new DbObjects('db', { host: d.host, port: d.port, database: d.database, username: d.username, password: config.secrets.dbObjectsPassword ?? config.secrets.dbPassword ?? '', sslmode: d.sslmode, schemas: d.schemas, timescaledb: d.timescaledb });
  }

  return {
    postgres: { host: database.host, port: database.port, url: postgresUrl },
    redis: { url: cache.url },
    qdrant: { url: vectors.url },
    s3: { bucket: backups.bucket.bucket, endpoint: `https://s3.${a.region}.amazonaws.com` },
    backupRepo,
    envVault: pulumi.interpolate`ssm:${envVault.prefix}`,
  };
}
