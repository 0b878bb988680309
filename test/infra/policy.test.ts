import { describe, expect, it } from 'vitest';
import {
  bucketRetentionGuarded, encryptionEverywhere, imagesPinned, kmsKeysGuarded, lifecycleOnEveryBucket, noOpenIngress, noPublicBuckets, noWildcardIam,
  objectLockCompliance, policies, retentionAuthority, secretsNotInPlainText, statefulProtected,
} from '../../infra/policy/policies';
import { assertHasResourceViolation, assertNoResourceViolations, createResourceValidationArgs as args, policyResource, stackViolations } from './policy-harness';

const PAB = 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock';
const allBlocked = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };
const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const DIGEST = `@sha256:${'a'.repeat(64)}`;
const taskDef = (container: object) => ({ containerDefinitions: JSON.stringify([{ name: 'runbook', image: `ghcr.io/x/runbooks${DIGEST}`, ...container }]) });

// Each block: the compliant case passes, and each listed defect is caught. Weaken a check and its block fails.
describe('policy pack', () => {
  it('every policy is in the pack and mandatory', () => {
    expect(policies).toHaveLength(12);
    for (const p of policies) expect(p.enforcementLevel, p.name).toBe('mandatory');
  });

  it('no-public-buckets: blocks, public ACLs and grants on Bucket and BucketV2, bucket policies allowing "*"', async () => {
    await assertNoResourceViolations(noPublicBuckets, args(PAB, allBlocked));
    for (const flag of Object.keys(allBlocked)) await assertHasResourceViolation(noPublicBuckets, args(PAB, { ...allBlocked, [flag]: false }), new RegExp(flag));
    await assertHasResourceViolation(noPublicBuckets, args('aws:s3/bucket:Bucket', { acl: 'public-read' }), /public ACL/);
    await assertHasResourceViolation(noPublicBuckets, args('aws:s3/bucketV2:BucketV2', { acl: 'public-read-write' }), /public ACL/);
    await assertHasResourceViolation(noPublicBuckets, args('aws:s3/bucketV2:BucketV2', { grants: [{ uri: 'http://acs.amazonaws.com/groups/global/AllUsers', permissions: ['READ'] }] }), /AllUsers/);
    await assertHasResourceViolation(noPublicBuckets, args('aws:s3/bucketAclV2:BucketAclV2', { accessControlPolicy: { grants: [{ grantee: { uri: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers' } }] } }), /AuthenticatedUsers/);
    const policy = 'aws:s3/bucketPolicy:BucketPolicy';
    await assertNoResourceViolations(noPublicBuckets, args(policy, { policy: doc({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }) }));
    await assertHasResourceViolation(noPublicBuckets, args(policy, { policy: doc({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }) }), /Principal "\*"/);
    await assertHasResourceViolation(noPublicBuckets, args(policy, { policy: doc({ Effect: 'Allow', Principal: { AWS: ['*'] }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }) }), /Principal "\*"/);
  });

  it('no-open-ingress: security groups, rules and ingress rules open to 0.0.0.0/0 or ::/0', async () => {
    const sg = 'aws:ec2/securityGroup:SecurityGroup';
    await assertNoResourceViolations(noOpenIngress, args(sg, { ingress: [{ fromPort: 5432, cidrBlocks: ['10.0.0.0/8'] }], egress: [{ cidrBlocks: ['0.0.0.0/0'] }] }));
    await assertHasResourceViolation(noOpenIngress, args(sg, { ingress: [{ fromPort: 5432, cidrBlocks: ['0.0.0.0/0'] }] }), /0\.0\.0\.0\/0/);
    await assertHasResourceViolation(noOpenIngress, args(sg, { ingress: [{ fromPort: 6333, ipv6CidrBlocks: ['::/0'] }] }), /::\/0/);
    await assertHasResourceViolation(noOpenIngress, args('aws:ec2/securityGroupRule:SecurityGroupRule', { type: 'ingress', fromPort: 22, cidrBlocks: ['0.0.0.0/0'] }), /port 22/);
    await assertNoResourceViolations(noOpenIngress, args('aws:ec2/securityGroupRule:SecurityGroupRule', { type: 'egress', cidrBlocks: ['0.0.0.0/0'] }));
    await assertHasResourceViolation(noOpenIngress, args('aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule', { cidrIpv4: '0.0.0.0/0', fromPort: 6379 }), /0\.0\.0\.0/);
  });

  it('encryption-everywhere: SSE-KMS, encrypted EBS, root and mapped disks, Redis at rest and in transit, encrypted queues', async () => {
    const sse = 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration';
    await assertNoResourceViolations(encryptionEverywhere, args(sse, { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms' } }] }));
    await assertHasResourceViolation(encryptionEverywhere, args(sse, { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] }), /aws:kms/);
    await assertHasResourceViolation(encryptionEverywhere, args('aws:ebs/volume:Volume', { encrypted: false }), /encrypted/);
    await assertHasResourceViolation(encryptionEverywhere, args('aws:ec2/instance:Instance', { rootBlockDevice: { encrypted: false } }), /root block/);
    await assertHasResourceViolation(encryptionEverywhere, args('aws:ec2/instance:Instance', { rootBlockDevice: { encrypted: true }, ebsBlockDevices: [{ deviceName: '/dev/sdf', encrypted: false }] }), /\/dev\/sdf/);
    const redis = { atRestEncryptionEnabled: true, transitEncryptionEnabled: true };
    await assertNoResourceViolations(encryptionEverywhere, args('aws:elasticache/replicationGroup:ReplicationGroup', redis));
    await assertHasResourceViolation(encryptionEverywhere, args('aws:elasticache/replicationGroup:ReplicationGroup', { ...redis, transitEncryptionEnabled: false }), /in transit/);
    await assertHasResourceViolation(encryptionEverywhere, args('aws:sqs/queue:Queue', {}), /encrypted/);
  });

  it('no-wildcard-iam: policies, role policies, inline role policies and managed policy attachments', async () => {
    const ok = doc({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::b/*'] }, { Effect: 'Deny', Action: 's3:*', Resource: '*' });
    await assertNoResourceViolations(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: ok }));
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: doc({ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' }) }), /resource "\*"/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/policy:Policy', { policy: doc({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b' }) }), /s3:\*/);
    // "*" only for actions without resource-level permissions, and only under a condition.
    await assertNoResourceViolations(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: doc({ Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'X' } } }) }));
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: doc({ Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*' }) }), /resource "\*"/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: doc({ Effect: 'Allow', Action: ['cloudwatch:PutMetricData', 's3:GetObject'], Resource: '*', Condition: {} }) }), /resource "\*"/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/role:Role', { inlinePolicies: [{ name: 'inline', policy: doc({ Effect: 'Allow', Action: '*', Resource: '*' }) }] }), /inline policy inline allows action "\*"/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/role:Role', { managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] }), /too broad/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/rolePolicyAttachment:RolePolicyAttachment', { policyArn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess' }), /too broad/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/policyAttachment:PolicyAttachment', { policyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' }), /too broad/);
    await assertNoResourceViolations(noWildcardIam, args('aws:iam/rolePolicyAttachment:RolePolicyAttachment', { policyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore' }));
  });

  it('stateful-resources-protected: protect true passes; false fails (Bucket, BucketV2, volumes, caches, keys)', async () => {
    for (const type of ['aws:s3/bucket:Bucket', 'aws:s3/bucketV2:BucketV2', 'aws:ebs/volume:Volume', 'aws:elasticache/replicationGroup:ReplicationGroup', 'aws:kms/key:Key']) {
      await assertNoResourceViolations(statefulProtected, args(type, {}, { protect: true }));
      await assertHasResourceViolation(statefulProtected, args(type, {}, { protect: false }), /protect/);
    }
  });

  it('images-pinned: pulled images by tag or digest, containers by image id or digest, ECS by digest', async () => {
    const image = 'docker:index/remoteImage:RemoteImage';
    await assertNoResourceViolations(imagesPinned, args(image, { name: 'qdrant/qdrant:v1.12.4' }));
    await assertHasResourceViolation(imagesPinned, args(image, { name: 'qdrant/qdrant:latest' }), /not pinned/);
    await assertHasResourceViolation(imagesPinned, args(image, { name: 'qdrant/qdrant' }), /not pinned/);
    const container = 'docker:index/container:Container';
    await assertNoResourceViolations(imagesPinned, args(container, { image: `sha256:${'b'.repeat(64)}` }));
    await assertNoResourceViolations(imagesPinned, args(container, { image: `redis${DIGEST}` }));
    await assertHasResourceViolation(imagesPinned, args(container, { image: 'redis:7.2.6' }), /mutable tag/);
    const task = 'aws:ecs/taskDefinition:TaskDefinition';
    await assertNoResourceViolations(imagesPinned, args(task, taskDef({})));
    await assertHasResourceViolation(imagesPinned, args(task, taskDef({ image: 'ghcr.io/x/runbooks:0.1.0' })), /not pinned by digest/);
  });

  it('secrets-not-in-plain-text: credentials in task environment or literal passwords in user data', async () => {
    const task = 'aws:ecs/taskDefinition:TaskDefinition';
    await assertNoResourceViolations(secretsNotInPlainText, args(task, taskDef({ environment: [{ name: 'BACKUP_REPO', value: 's3://b' }], secrets: [{ name: 'DATABASE_URL', valueFrom: 'arn:aws:secretsmanager:x' }] })));
    await assertHasResourceViolation(secretsNotInPlainText, args(task, taskDef({ environment: [{ name: 'DATABASE_URL', value: 'postgres://postgres:hunter2@db/tickvault' }] })), /DATABASE_URL/);
    await assertHasResourceViolation(secretsNotInPlainText, args(task, taskDef({ environment: [{ name: 'QDRANT_API_KEY', value: 'k' }] })), /QDRANT_API_KEY/);
    const host = 'aws:ec2/instance:Instance';
    await assertNoResourceViolations(secretsNotInPlainText, args(host, { userData: `secret=$(aws secretsmanager get-secret-value ...)\nprintf '%s=%s\\n' 'POSTGRES_PASSWORD' "$secret"` }));
    await assertHasResourceViolation(secretsNotInPlainText, args(host, { userData: "docker run -e POSTGRES_PASSWORD='hunter2' img" }), /literal credential/);
  });

  it('one-retention-authority: no expiration of current objects, nothing under pgbackrest/ or the whole bucket', async () => {
    const lc = 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration';
    await assertNoResourceViolations(retentionAuthority, args(lc, { rules: [{ id: 'nc', filter: { prefix: 'prod/' }, noncurrentVersionExpiration: { noncurrentDays: 7 } }, { id: 'mpu', filter: { prefix: 'prod/' }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } }] }));
    await assertHasResourceViolation(retentionAuthority, args(lc, { rules: [{ id: 'old', filter: { prefix: 'prod/postgres/' }, expiration: { days: 30 } }] }), /expires current objects/);
    await assertHasResourceViolation(retentionAuthority, args(lc, { rules: [{ id: 'wal', filter: { prefix: 'pgbackrest/archive/' }, noncurrentVersionExpiration: { noncurrentDays: 7 } }] }), /pgbackrest/);
    await assertHasResourceViolation(retentionAuthority, args(lc, { rules: [{ id: 'all', filter: { prefix: '' }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } }] }), /pgbackrest/);
  });

  it('object-lock-compliance: COMPLIANCE through the configuration resource, never the bucket flag', async () => {
    const lock = 'aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration';
    await assertNoResourceViolations(objectLockCompliance, args(lock, { rule: { defaultRetention: { mode: 'COMPLIANCE', days: 7 } } }));
    await assertHasResourceViolation(objectLockCompliance, args(lock, { rule: { defaultRetention: { mode: 'GOVERNANCE', days: 7 } } }), /GOVERNANCE/);
    await assertNoResourceViolations(objectLockCompliance, args('aws:s3/bucket:Bucket', { forceDestroy: false }));
    await assertHasResourceViolation(objectLockCompliance, args('aws:s3/bucket:Bucket', { objectLockEnabled: true }), /replacement/);
    await assertHasResourceViolation(objectLockCompliance, args('aws:s3/bucketV2:BucketV2', { objectLockEnabled: true }), /replacement/);
  });

  it('kms-keys-guarded: a conditional Deny of ScheduleKeyDeletion and DisableKey', async () => {
    const key = 'aws:kms/key:Key';
    const deny = (Action: string[]) => doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::1:root' }, Action: 'kms:*', Resource: '*' }, { Effect: 'Deny', Principal: { AWS: '*' }, Action, Resource: '*', Condition: { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::1:role/bg' } } });
    await assertNoResourceViolations(kmsKeysGuarded, args(key, { policy: deny(['kms:ScheduleKeyDeletion', 'kms:DisableKey']) }));
    await assertHasResourceViolation(kmsKeysGuarded, args(key, {}), /no key policy/);
    await assertHasResourceViolation(kmsKeysGuarded, args(key, { policy: deny(['kms:ScheduleKeyDeletion']) }), /DisableKey/);
    await assertHasResourceViolation(kmsKeysGuarded, args(key, { policy: deny(['kms:DisableKey']) }), /ScheduleKeyDeletion/);
  });

  it('backup-bucket-lifecycle: exactly one lifecycle and a public-access block per bucket (BucketV2 too)', async () => {
    for (const type of ['aws:s3/bucket:Bucket', 'aws:s3/bucketV2:BucketV2']) {
      const bucket = policyResource(type, 'backups');
      const lifecycle = (n: string) => policyResource('aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', n, {}, { bucket: [bucket] });
      const block = policyResource(PAB, 'pab', {}, { bucket: [bucket] });
      expect(await stackViolations(lifecycleOnEveryBucket, [bucket, lifecycle('l1'), block])).toEqual([]);
      expect((await stackViolations(lifecycleOnEveryBucket, [bucket, block]))[0]).toMatch(/0 lifecycle/);
      expect((await stackViolations(lifecycleOnEveryBucket, [bucket, lifecycle('l1'), lifecycle('l2'), block]))[0]).toMatch(/2 lifecycle/);
      expect((await stackViolations(lifecycleOnEveryBucket, [bucket, lifecycle('l1')]))[0]).toMatch(/public-access block/);
    }
  });

  it('bucket-retention-guarded: a policy denies lifecycle and policy changes outside the break-glass role', async () => {
    const bucket = policyResource('aws:s3/bucket:Bucket', 'backups');
    const guard = (Action: string[], Condition: object | null = { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::1:role/bg' } }) =>
      policyResource('aws:s3/bucketPolicy:BucketPolicy', 'policy', { policy: doc({ Effect: 'Deny', Principal: { AWS: '*' }, Action, Resource: '*', ...(Condition ? { Condition } : {}) }) }, { bucket: [bucket] });
    expect(await stackViolations(bucketRetentionGuarded, [bucket, guard(['s3:PutLifecycleConfiguration', 's3:PutBucketPolicy'])])).toEqual([]);
    expect(await stackViolations(bucketRetentionGuarded, [bucket])).toHaveLength(2);
    expect((await stackViolations(bucketRetentionGuarded, [bucket, guard(['s3:PutBucketPolicy'])]))[0]).toMatch(/PutLifecycleConfiguration/);
    expect(await stackViolations(bucketRetentionGuarded, [bucket, guard(['s3:PutLifecycleConfiguration', 's3:PutBucketPolicy'], null)])).toHaveLength(2);
  });
});
