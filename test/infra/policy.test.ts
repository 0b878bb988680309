import { describe, expect, it } from 'vitest';
import { encryptionEverywhere, imagesPinned, lifecycleOnEveryBucket, noPublicBuckets, noWildcardIam, statefulProtected } from '../../infra/policy/policies';
import { assertHasResourceViolation, assertNoResourceViolations, createResourceValidationArgs as args, policyResource, stackViolations } from './policy-harness';

const PAB = 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock';
const allBlocked = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true };

describe('policy pack', () => {
  it('no-public-buckets: all four blocks pass; turning any one off fails', async () => {
    await assertNoResourceViolations(noPublicBuckets, args(PAB, allBlocked));
    for (const flag of Object.keys(allBlocked)) await assertHasResourceViolation(noPublicBuckets, args(PAB, { ...allBlocked, [flag]: false }), new RegExp(flag));
    await assertHasResourceViolation(noPublicBuckets, args('aws:s3/bucket:Bucket', { acl: 'public-read' }), /public ACL/);
  });

  it('encryption-everywhere: SSE-KMS, encrypted EBS and root disks, Redis at rest and in transit, encrypted queues', async () => {
    const sse = 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration';
    await assertNoResourceViolations(encryptionEverywhere, args(sse, { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms' } }] }));
    await assertHasResourceViolation(encryptionEverywhere, args(sse, { rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] }), /aws:kms/);
    await assertNoResourceViolations(encryptionEverywhere, args('aws:ebs/volume:Volume', { encrypted: true }));
    await assertHasResourceViolation(encryptionEverywhere, args('aws:ebs/volume:Volume', { encrypted: false }), /encrypted/);
    await assertHasResourceViolation(encryptionEverywhere, args('aws:ec2/instance:Instance', { rootBlockDevice: { encrypted: false } }), /root block/);
    const redis = { atRestEncryptionEnabled: true, transitEncryptionEnabled: true };
    await assertNoResourceViolations(encryptionEverywhere, args('aws:elasticache/replicationGroup:ReplicationGroup', redis));
    await assertHasResourceViolation(encryptionEverywhere, args('aws:elasticache/replicationGroup:ReplicationGroup', { ...redis, transitEncryptionEnabled: false }), /in transit/);
    await assertHasResourceViolation(encryptionEverywhere, args('aws:sqs/queue:Queue', {}), /encrypted/);
  });

  it('no-wildcard-iam: named actions and resources pass; "*" or "svc:*" fails; Deny statements are fine', async () => {
    const ok = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::b/*'] }, { Effect: 'Deny', Action: 's3:*', Resource: '*' }] };
    await assertNoResourceViolations(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: JSON.stringify(ok) }));
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/rolePolicy:RolePolicy', { policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' }] }) }), /resource "\*"/);
    await assertHasResourceViolation(noWildcardIam, args('aws:iam/policy:Policy', { policy: JSON.stringify({ Statement: { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b' } }) }), /s3:\*/);
  });

  it('stateful-resources-protected: protect true passes; false fails', async () => {
    for (const type of ['aws:s3/bucket:Bucket', 'aws:ebs/volume:Volume', 'aws:elasticache/replicationGroup:ReplicationGroup', 'aws:kms/key:Key']) {
      await assertNoResourceViolations(statefulProtected, args(type, {}, { protect: true }));
      await assertHasResourceViolation(statefulProtected, args(type, {}, { protect: false }), /protect/);
    }
  });

  it('images-pinned: tags and digests pass; :latest or no tag fails, in Docker and ECS', async () => {
    const image = 'docker:index/remoteImage:RemoteImage';
    await assertNoResourceViolations(imagesPinned, args(image, { name: 'qdrant/qdrant:v1.12.4' }));
    await assertNoResourceViolations(imagesPinned, args(image, { name: `redis@sha256:${'a'.repeat(64)}` }));
    await assertHasResourceViolation(imagesPinned, args(image, { name: 'qdrant/qdrant:latest' }), /not pinned/);
    await assertHasResourceViolation(imagesPinned, args(image, { name: 'qdrant/qdrant' }), /not pinned/);
    const task = 'aws:ecs/taskDefinition:TaskDefinition';
    await assertNoResourceViolations(imagesPinned, args(task, { containerDefinitions: JSON.stringify([{ name: 'runbook', image: 'ghcr.io/x/runbooks:0.1.0' }]) }));
    await assertHasResourceViolation(imagesPinned, args(task, { containerDefinitions: JSON.stringify([{ name: 'runbook', image: 'ghcr.io/x/runbooks:latest' }]) }), /runbook/);
  });

  it('backup-bucket-lifecycle: exactly one lifecycle and a public-access block per bucket', async () => {
    const bucket = policyResource('aws:s3/bucket:Bucket', 'backups');
    const lifecycle = (n: string) => policyResource('aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', n, {}, { bucket: [bucket] });
    const block = policyResource(PAB, 'pab', {}, { bucket: [bucket] });
    expect(await stackViolations(lifecycleOnEveryBucket, [bucket, lifecycle('l1'), block])).toEqual([]);
    expect((await stackViolations(lifecycleOnEveryBucket, [bucket, block]))[0]).toMatch(/0 lifecycle/);
    expect((await stackViolations(lifecycleOnEveryBucket, [bucket, lifecycle('l1'), lifecycle('l2'), block]))[0]).toMatch(/2 lifecycle/);
    expect((await stackViolations(lifecycleOnEveryBucket, [bucket, lifecycle('l1')]))[0]).toMatch(/public-access block/);
  });
});
