import { beforeAll, describe, expect, it } from 'vitest';
import { FRESHNESS_METRIC, FRESHNESS_NAMESPACE } from '../../infra/components/backup-alarms';
import { PROTECTED_BUCKET_ACTIONS } from '../../infra/components/backup-bucket';
import type { Declared } from '../../infra/mocks';
import { policies } from '../../infra/policy/policies';
import { createResourceValidationArgs, resourceViolations } from './policy-harness';
import { containers, declareStack, ofType, one, statements } from './declare';

let resources: Declared[];
let outputs: Record<string, any>;
const BREAK_GLASS = 'arn:aws:iam::123456789012:role/tickvault-break-glass';

beforeAll(async () => {
  ({ resources, outputs } = await declareStack('prod'));
});

const task = (job: string) => one(resources, 'aws:ecs/taskDefinition:TaskDefinition', `backup-${job}`);
const generated = () => ofType(resources, 'random:index/randomPassword:RandomPassword').map((p) => `generated${p.name}`.replace(/[^A-Za-z0-9]/g, '').slice(0, 12));

describe('prod: scheduled runbook tasks that can succeed', () => {
  it('backup (each store), verify, prune and a weekly restore drill are scheduled, each its own task', () => {
    const schedules = Object.fromEntries(ofType(resources, 'aws:scheduler/schedule:Schedule').map((s) => [s.name.replace(/^backup-/, ''), s.inputs as any]));
    expect(Object.keys(schedules).sort()).toEqual(['backup-postgres', 'backup-qdrant', 'backup-redis', 'drill-restore', 'prune', 'verify-postgres']);
    expect(schedules['backup-postgres'].scheduleExpression).toBe('cron(0 3 * * ? *)');
    expect(schedules['backup-qdrant'].scheduleExpression).toBe('cron(0 4 * * ? *)');
    expect(schedules['backup-redis'].scheduleExpression).toBe('cron(0 5 * * ? *)');
    expect(schedules['drill-restore'].scheduleExpression).toMatch(/^cron\(\d+ \d+ \? \* [A-Z]{3} \*\)$/);
    const dlq = one(resources, 'aws:sqs/queue:Queue');
    for (const [job, s] of Object.entries(schedules)) {
      expect(s.scheduleExpressionTimezone).toBe('UTC');
      expect(s.target.retryPolicy.maximumRetryAttempts).toBeGreaterThan(0);
      expect(s.target.deadLetterConfig.arn).toContain(dlq.name);
      expect(s.target.ecsParameters.taskDefinitionArn, job).toContain(`task-definition/tickvault-${job}:`);
    }
    expect(containers(task('prune'))[0].command).toEqual(['runbooks/backup.ts', 'prune', '--yes', '--json']);
    expect(containers(task('verify-postgres'))[0].command).toEqual(['runbooks/backup.ts', 'verify', 'latest', '--store', 'postgres', '--json']);
    expect(containers(task('drill-restore'))[0].command[0]).toContain('restore.ts postgres --latest --target-url "$SCRATCH_DATABASE_URL"');
  });

  it('connection URLs come from Secrets Manager through `secrets`; no credential is in any environment', () => {
    const c = containers(task('backup-postgres'))[0];
    expect(c.secrets).toEqual([{ name: 'DATABASE_URL', valueFrom: expect.stringMatching(/^arn:aws:secretsmanager:.*database-url/) }]);
    expect(c.environment.map((e: any) => e.name).sort()).toEqual(['BACKUP_REPO', 'TICKVAULT_ENV', 'TICKVAULT_METRICS']);
    expect(containers(task('backup-qdrant'))[0].secrets.map((s: any) => s.name)).toEqual(['QDRANT_API_KEY']);
    expect(containers(task('drill-restore'))[0].secrets.map((s: any) => s.name).sort()).toEqual(['DATABASE_URL', 'SCRATCH_DATABASE_URL']);
    for (const t of ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition')) {
      for (const e of containers(t)[0].environment) {
        expect(e.value, `${t.name} ${e.name}`).not.toMatch(/:\/\/[^/\s]*:[^@/\s]+@/); // no user:password@
        for (const g of generated()) expect(e.value).not.toContain(g);
      }
    }
  });

  it('the execution role reads exactly the secrets the tasks declare, nothing else', () => {
    const declared = new Set(ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition').flatMap((t) => containers(t)[0].secrets.map((s: any) => s.valueFrom)));
    const read = statements(one(resources, 'aws:iam/rolePolicy:RolePolicy', 'backup-execution-logs')).find((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(new Set(read.Resource)).toEqual(declared);
    expect(declared.size).toBe(3);
  });

  it('store passwords are generated, stored as secrets, and absent from user data and plain outputs', () => {
    const passwords = ofType(resources, 'random:index/randomPassword:RandomPassword');
    expect(passwords.map((p) => p.name).sort()).toEqual(['db-superuser-password', 'qdrant-api-key-generated', 'redis-auth-token-generated']);
    for (const p of passwords) expect(p.additionalSecretOutputs).toContain('result');
    for (const v of ofType(resources, 'aws:secretsmanager/secretVersion:SecretVersion')) expect(v.additionalSecretOutputs).toContain('secretString');
    const cache = one(resources, 'aws:elasticache/replicationGroup:ReplicationGroup');
    expect(cache.inputs.authToken).toMatch(/^generatedredisauthtoken/);
    for (const i of ofType(resources, 'aws:ec2/instance:Instance')) {
      for (const g of generated()) expect(i.inputs.userData as string, i.name).not.toContain(g);
      expect(i.inputs.userData).toMatch(/aws secretsmanager get-secret-value/);
    }
    expect(JSON.stringify(outputs.s3) + outputs.backupRepo + outputs.qdrant.url).not.toMatch(/generated/);
  });

  it('ephemeral storage sized, and the runbook image pinned by digest', () => {
    for (const t of ofType(resources, 'aws:ecs/taskDefinition:TaskDefinition')) {
      expect(t.inputs.ephemeralStorage, t.name).toEqual({ sizeInGib: 100 });
      expect(containers(t)[0].image).toMatch(/@sha256:[a-f0-9]{64}$/);
    }
  });

  it('the task role writes only the repository prefix, and may snapshot only its own Redis group', () => {
    const s = statements(one(resources, 'aws:iam/rolePolicy:RolePolicy', 'backup-task-repository'));
    const put = s.find((x) => x.Action.includes('s3:PutObject'));
    expect(put.Resource).toEqual([expect.stringMatching(/\/prod\/\*$/)]);
    const ec = s.find((x) => x.Action.includes('elasticache:CopySnapshot'));
    expect(ec.Resource.join(' ')).toContain('replicationgroup:cache-redis-id');
    const metrics = s.find((x) => x.Action.includes('cloudwatch:PutMetricData'));
    expect(metrics.Condition.StringEquals['cloudwatch:namespace']).toBe(FRESHNESS_NAMESPACE);
    expect(containers(task('backup-redis'))[0].environment).toContainEqual({ name: 'ELASTICACHE_REPLICATION_GROUP', value: 'cache-redis-id' });
  });
});

describe('prod: failures reach someone', () => {
  it('an EventBridge rule sends non-zero exits (and tasks that never start) of the runbook cluster to SNS', () => {
    const rule = one(resources, 'aws:cloudwatch/eventRule:EventRule');
    const pattern = JSON.parse(rule.inputs.eventPattern as string);
    expect(pattern).toMatchObject({ source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'], detail: { lastStatus: ['STOPPED'], clusterArn: [expect.stringContaining('backup-cluster')] } });
    expect(pattern.detail.$or).toContainEqual({ containers: { exitCode: [{ 'anything-but': 0 }] } });
    const topic = one(resources, 'aws:sns/topic:Topic');
    expect(one(resources, 'aws:cloudwatch/eventTarget:EventTarget').inputs.arn).toContain(topic.name);
    const publish = statements(one(resources, 'aws:sns/topicPolicy:TopicPolicy')).find((s) => s.Principal.Service === 'events.amazonaws.com');
    expect(publish.Condition.ArnEquals['aws:SourceArn']).toContain('alarms-task-failed');
    expect(one(resources, 'aws:sns/topicSubscription:TopicSubscription').inputs).toMatchObject({ protocol: 'email', endpoint: 'platform-oncall@example.com' });
  });

  it('alarms on DLQ depth, scheduler target errors, freshness per store beyond 26 h, and WAL archive failures', () => {
    const alarms = Object.fromEntries(ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm').map((a) => [a.name.replace(/^alarms-/, ''), a.inputs as any]));
    expect(alarms['dlq-depth']).toMatchObject({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', threshold: 0, comparisonOperator: 'GreaterThanThreshold' });
    expect(alarms['scheduler-target-errors']).toMatchObject({ namespace: 'AWS/Scheduler', metricName: 'TargetErrorCount' });
    for (const store of ['postgres', 'qdrant', 'redis']) {
      expect(alarms[`freshness-${store}`]).toMatchObject({ namespace: FRESHNESS_NAMESPACE, metricName: FRESHNESS_METRIC, dimensions: { Env: 'prod', Store: store }, threshold: 26, comparisonOperator: 'GreaterThanThreshold', treatMissingData: 'breaching' });
    }
    expect(alarms['wal-archive-failures']).toMatchObject({ metricName: 'WalArchiveFailures', threshold: 0 });
    const filter = one(resources, 'aws:cloudwatch/logMetricFilter:LogMetricFilter').inputs as any;
    expect(filter.pattern).toContain('archive command failed');
    expect(filter.logGroupName).toBe(one(resources, 'aws:cloudwatch/logGroup:LogGroup', 'timescale-logs').inputs.name ?? '/tickvault/timescale-logs');
    const topic = one(resources, 'aws:sns/topic:Topic').name;
    for (const [id, a] of Object.entries(alarms)) expect(a.alarmActions.join(' '), id).toContain(topic);
  });
});

describe('prod: the backup bucket', () => {
  it('one retention authority: lifecycle only aborts uploads and expires noncurrent versions under prod/, never pgbackrest/', () => {
    const lifecycles = ofType(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration');
    expect(lifecycles).toHaveLength(1);
    const rules = lifecycles[0]!.inputs.rules as any[];
    for (const r of rules) {
      expect(r.expiration, r.id).toBeUndefined();
      expect(r.filter.prefix, r.id).toBe('prod/');
    }
    expect(rules.some((r) => r.abortIncompleteMultipartUpload?.daysAfterInitiation === 1)).toBe(true);
    expect(rules.some((r) => r.noncurrentVersionExpiration?.noncurrentDays === 7)).toBe(true);
  });

  it('Object Lock COMPLIANCE through BucketObjectLockConfiguration; the bucket itself is identical with or without it', async () => {
    const bucket = one(resources, 'aws:s3/bucket:Bucket');
    expect(bucket.protect).toBe(true);
    expect(bucket.inputs.objectLockEnabled).toBeUndefined();
    expect(one(resources, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration').inputs).toMatchObject({ objectLockEnabled: 'Enabled', rule: { defaultRetention: { mode: 'COMPLIANCE', days: 7 } } });
    const without = await declareStack('prod', { 'tickvault:backups': '{}' });
    expect(ofType(without.resources, 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration')).toHaveLength(0);
    // Same inputs = no replacement of the protected bucket when the lock is turned on.
    expect(one(without.resources, 'aws:s3/bucket:Bucket').inputs).toEqual(bucket.inputs);
  });

  it('the bucket policy denies lifecycle, policy, versioning and lock changes to everyone but the break-glass role', () => {
    const s = statements(one(resources, 'aws:s3/bucketPolicy:BucketPolicy'));
    expect(s.find((x) => x.Sid === 'DenyInsecureTransport')).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    const deny = s.find((x) => x.Sid === 'DenyRetentionChangesOutsideBreakGlass');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Condition: { ArnNotEquals: { 'aws:PrincipalArn': BREAK_GLASS } } });
    for (const action of ['s3:PutLifecycleConfiguration', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:PutBucketObjectLockConfiguration']) expect(deny.Action).toContain(action);
    expect(deny.Action).toEqual(PROTECTED_BUCKET_ACTIONS);
    // ElastiCache may write its exports under prod/redis/ only.
    const exportObjects = s.find((x) => x.Sid === 'ElastiCacheExportObjects');
    expect(exportObjects.Resource[0]).toMatch(/\/prod\/redis\/\*$/);
  });

  it('every KMS key denies ScheduleKeyDeletion and DisableKey outside the break-glass role', () => {
    const keys = ofType(resources, 'aws:kms/key:Key');
    expect(keys.map((k) => k.name).sort()).toEqual(['backups-key', 'env-key']);
    for (const k of keys) {
      const deny = statements(k).find((s) => s.Effect === 'Deny');
      expect(deny.Action, k.name).toEqual(expect.arrayContaining(['kms:ScheduleKeyDeletion', 'kms:DisableKey']));
      expect(deny.Condition.ArnNotEquals['aws:PrincipalArn']).toBe(BREAK_GLASS);
      expect(k).toMatchObject({ protect: true, inputs: { enableKeyRotation: true } });
    }
  });
});

describe('prod: hosts', () => {
  it('data volumes are in the block device mapping (attached before user data), encrypted, kept on termination', () => {
    expect(ofType(resources, 'aws:ec2/volumeAttachment:VolumeAttachment')).toHaveLength(0);
    expect(resources.some((r) => r.type.startsWith('aws:efs'))).toBe(false);
    for (const i of ofType(resources, 'aws:ec2/instance:Instance')) {
      expect(i.inputs.ebsBlockDevices, i.name).toEqual([expect.objectContaining({ deviceName: '/dev/sdf', encrypted: true, deleteOnTermination: false })]);
      expect(i.inputs).toMatchObject({ rootBlockDevice: { encrypted: true }, metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 } });
      expect(i.protect).toBe(true);
    }
  });

  it('TimescaleDB: pg15 + ts2.28 image, WAL to S3 through pgBackRest, database and TLS, Session Manager and log shipping', () => {
    const ud = one(resources, 'aws:ec2/instance:Instance', 'timescale-instance').inputs.userData as string;
    expect(ud).toMatch(/timescale\/timescaledb-ha:pg15\.\d+-ts2\.28\.\d+-all/);
    for (const s of ['archive_mode=on', 'archive-push %p', 'PGBACKREST_REPO1_S3_ENDPOINT=s3.eu-west-1.amazonaws.com', 'PGBACKREST_REPO1_S3_REGION=eu-west-1', 'PGBACKREST_REPO1_S3_BUCKET=backups-bucket-0a1b2c', 'POSTGRES_DB=tickvault', 'ssl=on', 'stanza-create', 'check', 'chown -R \'1000:1000\'', 'UUID=', '--log-driver awslogs']) expect(ud).toContain(s);
    for (const role of ['timescale-ssm', 'qdrant-ssm']) expect(one(resources, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment', role).inputs.policyArn).toBe('arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore');
    const s = statements(one(resources, 'aws:iam/rolePolicy:RolePolicy', 'timescale-policy'));
    expect(s.find((x) => x.Action.includes('secretsmanager:GetSecretValue')).Resource).toEqual([expect.stringContaining('db-superuser')]);
    expect(s.find((x) => x.Action.includes('s3:PutObject')).Resource).toEqual([expect.stringMatching(/\/pgbackrest\/\*$/)]);
    expect(outputs.postgres.url).toMatch(/sslmode=require/);
  });

  it('Qdrant: API key from Secrets Manager, listening on the private address only', () => {
    const ud = one(resources, 'aws:ec2/instance:Instance', 'qdrant-instance').inputs.userData as string;
    expect(ud).toContain("'QDRANT__SERVICE__API_KEY'");
    expect(ud).toContain('-p "$private_ip:6333:6333"');
    expect(ud).toContain('qdrant-api-key');
  });
});

describe('prod: style and guardrails', () => {
  it('tags applied once: the provider default tags, and no resource repeats them', () => {
    expect(one(resources, 'pulumi:providers:aws').inputs.defaultTags).toEqual(JSON.stringify({ tags: { project: 'tickvault', stack: 'prod', 'managed-by': 'pulumi', owner: 'platform', environment: 'prod', 'cost-center': 'market-data' } }));
    for (const r of resources.filter((x) => x.type.startsWith('aws:'))) expect(r.inputs.tags, `${r.type} ${r.name}`).toBeUndefined();
  });

  it('renamed resources keep their state through aliases', () => {
    expect(one(resources, 'aws:s3/bucketPolicy:BucketPolicy').aliases).toBe(1);
    for (const store of ['postgres', 'qdrant', 'redis']) expect(one(resources, 'aws:scheduler/schedule:Schedule', `backup-backup-${store}`).aliases).toBe(1);
  });

  it('URNs are unique, and the stack satisfies its own policy pack', async () => {
    const urns = resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
    for (const r of resources.filter((x) => x.custom)) {
      const args = createResourceValidationArgs(r.type, r.inputs, { protect: r.protect, name: r.name });
      for (const policy of policies) if ('validateResource' in policy) expect(await resourceViolations(policy, args), `${policy.name} on ${r.name}`).toEqual([]);
    }
  });

  it('exports the same connection outputs as dev, plus the alarm topic', () => {
    expect(Object.keys(outputs).sort()).toEqual(['alarmTopic', 'backupRepo', 'envVault', 'postgres', 'qdrant', 'redis', 's3']);
    expect(outputs.postgres).toMatchObject({ host: '10.0.1.10', port: 5432 });
    expect(outputs.redis.url).toMatch(/^rediss:\/\//);
    expect(outputs.s3).toMatchObject({ bucket: 'backups-bucket-0a1b2c', region: 'eu-west-1' });
  });

  it('DbObjects (when configured): every login role gets a generated password', async () => {
    const withDb = await declareStack('prod', { 'tickvault:dbObjects': JSON.stringify({ host: 'db.internal', username: 'admin' }), 'tickvault:dbObjectsPassword': 'admin-password' });
    const roles = ofType(withDb.resources, 'postgresql:index/role:Role');
    expect(roles.map((r) => r.inputs.name).sort()).toEqual(['tickvault_app', 'tickvault_migrator', 'tickvault_readonly']);
    for (const r of roles) {
      expect(r.inputs.password, r.name).toMatch(/^generateddb/);
      expect(r.additionalSecretOutputs).toContain('password');
    }
    expect(one(withDb.resources, 'pulumi:providers:postgresql').inputs).toMatchObject({ superuser: 'false', sslmode: 'require' });
  });
});
