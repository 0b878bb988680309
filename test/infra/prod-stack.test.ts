import { beforeAll, describe, expect, it } from 'vitest';
import type { Declared } from '../../infra/mocks';
import { policies } from '../../infra/policy/policies';
import { TAGGABLE } from '../../infra/tags';
import { createResourceValidationArgs, resourceViolations } from './policy-harness';
import { declareStack, ofType, one } from './declare';

let resources: Declared[];
let outputs: Record<string, any>;

beforeAll(async () => {
  ({ resources, outputs } = await declareStack('prod', {
    'tickvault:dbObjects': JSON.stringify({ host: 'db.internal', username: 'admin', schemas: ['market', 'trading'] }),
  }));
});

describe('prod stack (AWS, under Pulumi mocks)', () => {
  it('BackupBucket: versioning, SSE-KMS, four public-access blocks, TLS-only policy, object lock', () => {
    const bucket = one(resources, 'aws:s3/bucket:Bucket');
    expect(bucket).toMatchObject({ protect: true, parent: 'backups', inputs: { objectLockEnabled: true } });
    expect(one(resources, 'aws:s3/bucketVersioning:BucketVersioning').inputs.versioningConfiguration).toEqual({ status: 'Enabled' });
    const sse = one(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration').inputs as any;
    expect(sse.rules[0].applyServerSideEncryptionByDefault).toMatchObject({ sseAlgorithm: 'aws:kms', kmsMasterKeyId: expect.stringContaining('arn:aws:kms') });
    expect(one(resources, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    const policy = JSON.parse(one(resources, 'aws:s3/bucketPolicy:BucketPolicy').inputs.policy as string);
    expect(policy.Statement[0]).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    expect(one(resources, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration').inputs).toMatchObject({ rule: { defaultRetention: { mode: 'GOVERNANCE', days: 7 } } });
  });

  it("exactly one lifecycle configuration, expiring each prefix on seed 004's schedule", () => {
    const lifecycles = ofType(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration');
    expect(lifecycles).toHaveLength(ofType(resources, 'aws:s3/bucket:Bucket').length);
    const rules = Object.fromEntries((lifecycles[0]!.inputs.rules as any[]).map((r) => [r.filter.prefix, r]));
    expect(rules['prod/postgres/'].expiration.days).toBe(30);
    expect(rules['pgbackrest/backup/'].expiration.days).toBe(30);
    expect(rules['pgbackrest/archive/'].expiration.days).toBe(7);
    expect(rules['prod/qdrant/'].expiration.days).toBe(30);
    expect(rules['prod/redis/'].expiration.days).toBe(7);
    for (const r of Object.values(rules) as any[]) if (r.expiration) expect(r.noncurrentVersionExpiration.noncurrentDays).toBe(7);
    expect(rules[''].abortIncompleteMultipartUpload.daysAfterInitiation).toBe(1);
  });

  it('BackupSchedule: explicit UTC crons at 03:00, 04:00, 05:00 with retries and a dead-letter queue', () => {
    const schedules = ofType(resources, 'aws:scheduler/schedule:Schedule');
    const byStore = Object.fromEntries(schedules.map((s) => [s.name.replace('backup-', ''), s.inputs as any]));
    expect(byStore.postgres.scheduleExpression).toBe('cron(0 3 * * ? *)');
    expect(byStore.qdrant.scheduleExpression).toBe('cron(0 4 * * ? *)');
    expect(byStore.redis.scheduleExpression).toBe('cron(0 5 * * ? *)');
    const dlq = one(resources, 'aws:sqs/queue:Queue');
    for (const s of Object.values(byStore)) {
      expect(s.scheduleExpressionTimezone).toBe('UTC');
      expect(s.flexibleTimeWindow).toEqual({ mode: 'OFF' });
      expect(s.target.retryPolicy.maximumRetryAttempts).toBeGreaterThan(0);
      expect(s.target.deadLetterConfig.arn).toContain(dlq.name);
      expect(s.target.ecsParameters).toMatchObject({ launchType: 'FARGATE', networkConfiguration: { assignPublicIp: false } });
    }
    expect(JSON.parse(byStore.redis.target.input).containerOverrides[0].command).toEqual(['runbooks/backup.ts', 'redis', '--json']);
  });

  it('least privilege: PassRole only on the task and execution roles; no "*" in any Allow', () => {
    const scheduler = JSON.parse(one(resources, 'aws:iam/rolePolicy:RolePolicy', 'backup-scheduler-run').inputs.policy as string);
    const pass = scheduler.Statement.find((s: any) => s.Action.includes('iam:PassRole'));
    expect(pass.Resource).toHaveLength(2);
    expect(pass.Resource.join(' ')).toMatch(/backup-task.*backup-execution|backup-execution.*backup-task/);
    for (const r of [...ofType(resources, 'aws:iam/rolePolicy:RolePolicy'), ...ofType(resources, 'aws:iam/policy:Policy')]) {
      for (const s of JSON.parse(r.inputs.policy as string).Statement.filter((x: any) => x.Effect === 'Allow')) {
        expect([s.Action].flat().some((a: string) => a === '*' || a.endsWith(':*')), r.name).toBe(false);
        expect([s.Resource].flat().includes('*'), r.name).toBe(false);
      }
    }
  });

  it('TimescaleDb, VectorStore on encrypted EBS (no EFS), Cache encrypted with auth and 7 days of snapshots', () => {
    expect(resources.some((r) => r.type.startsWith('aws:efs'))).toBe(false);
    for (const v of ofType(resources, 'aws:ebs/volume:Volume')) expect(v).toMatchObject({ protect: true, inputs: { encrypted: true } });
    for (const i of ofType(resources, 'aws:ec2/instance:Instance')) expect(i.inputs).toMatchObject({ rootBlockDevice: { encrypted: true }, metadataOptions: { httpTokens: 'required' } });
    expect(one(resources, 'tickvault:database:TimescaleDb').name).toBe('timescale');
    expect(one(resources, 'aws:ec2/instance:Instance', 'timescale-instance').inputs.userData).toMatch(/timescale\/timescaledb-ha:pg16\.6-ts2\.17\.2-all/);
    const redis = one(resources, 'aws:elasticache/replicationGroup:ReplicationGroup');
    expect(redis).toMatchObject({ protect: true, inputs: { atRestEncryptionEnabled: true, transitEncryptionEnabled: true, snapshotRetentionLimit: 7, snapshotWindow: '05:00-06:00', authToken: 'test-redis-auth-token-0123456789' } });
  });

  it('EnvVault: a rotating KMS key and a policy scoped to the SSM prefix', () => {
    expect(one(resources, 'aws:kms/key:Key', 'env-key')).toMatchObject({ protect: true, inputs: { enableKeyRotation: true } });
    const policy = JSON.parse(one(resources, 'aws:iam/policy:Policy', 'env-access').inputs.policy as string);
    expect(policy.Statement[0].Resource[0]).toMatch(/parameter\/tickvault\/prod\/\*$/);
    expect(outputs.envVault).toBe('ssm:/tickvault/prod');
  });

  it('DbObjects: extension, schemas, three roles, default privileges owned by the migrator, PUBLIC revoked', () => {
    expect(one(resources, 'pulumi:providers:postgresql').inputs).toMatchObject({ superuser: 'false' });
    expect(one(resources, 'postgresql:index/extension:Extension').inputs).toMatchObject({ name: 'timescaledb' });
    expect(ofType(resources, 'postgresql:index/role:Role').map((r) => r.inputs.name).sort()).toEqual(['tickvault_app', 'tickvault_migrator', 'tickvault_readonly']);
    for (const d of ofType(resources, 'postgresql:index/defaultPrivileges:DefaultPrivileges')) expect(d.inputs.owner).toBe('tickvault_migrator');
    const revokes = ofType(resources, 'postgresql:index/grant:Grant').filter((g) => g.inputs.role === 'public');
    expect(revokes.map((g) => g.inputs.objectType).sort()).toEqual(['database', 'schema']);
    for (const g of revokes) expect(g.inputs.privileges).toEqual([]);
  });

  it('tags on every taggable resource, stateful resources protected, URNs unique', () => {
    const taggable = resources.filter((r) => TAGGABLE.has(r.type));
    expect(taggable.length).toBeGreaterThan(20);
    for (const r of taggable) expect(r.inputs.tags, `${r.type} ${r.name}`).toMatchObject({ project: 'tickvault', stack: 'prod', owner: 'platform' });
    const urns = resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
  });

  it('satisfies its own policy pack', async () => {
    for (const r of resources.filter((x) => x.custom)) {
      const args = createResourceValidationArgs(r.type, r.inputs, { protect: r.protect, name: r.name });
      for (const policy of policies) if ('validateResource' in policy) expect(await resourceViolations(policy, args), `${policy.name} on ${r.name}`).toEqual([]);
    }
  });

  it('exports the same connection outputs as dev', () => {
    expect(Object.keys(outputs).sort()).toEqual(['backupRepo', 'envVault', 'postgres', 'qdrant', 'redis', 's3']);
    expect(outputs.postgres).toMatchObject({ host: '10.0.1.10', port: 5432, url: expect.stringMatching(/^postgres:\/\//) });
    expect(outputs.redis.url).toMatch(/^rediss:\/\//);
    expect(outputs.backupRepo).toMatch(/^s3:\/\//);
  });
});
