import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { protectedKeyPolicy } from './key-policy';
import { lifecycleRules } from './retention';

export interface BackupBucketArgs {
  /** The runbook repository's environment prefix (`<env>/`): the only prefix lifecycle rules touch. */
  readonly env: string;
  /** Days before a noncurrent (overwritten or deleted) version expires. */
  readonly noncurrentVersionDays: pulumi.Input<number>;
  /** Object Lock (COMPLIANCE mode) default retention in days; off when omitted. */
  readonly objectLockDays?: number;
  /** The only principal that may change lifecycle, policy, versioning or lock, or destroy the key. */
  readonly breakGlassRoleArn: pulumi.Input<string>;
  /** Where ElastiCache exports Redis snapshots (`<env>/redis/`); the service may write there only. */
  readonly elasticacheExportPrefix?: string;
  readonly region: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
}

/** Bucket actions that would let an attacker with ordinary admin rights shorten retention or open the bucket. */
export const PROTECTED_BUCKET_ACTIONS = [
  's3:PutLifecycleConfiguration',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketVersioning',
  's3:PutBucketObjectLockConfiguration',
  's3:BypassGovernanceRetention',
];

/**
 * The backup repository bucket: versioned, SSE-KMS with a key only the
 * break-glass role can destroy, every public-access block on, TLS-only,
 * Object Lock in COMPLIANCE mode, and exactly one lifecycle configuration
 * that never expires a backup (the runbook's prune decides that).
 */
export class BackupBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly key: aws.kms.Key;
  readonly kmsKeyArn: pulumi.Output<string>;
  readonly lifecycle: aws.s3.BucketLifecycleConfiguration;
  readonly policy: aws.s3.BucketPolicy;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:storage:BackupBucket', name, {}, opts);
    const child = { parent: this };
    const exportService = pulumi.interpolate`${args.region}.elasticache-snapshot.amazonaws.com`;

    this.key = new aws.kms.Key(`${name}-key`, {
      description: `tickvault backups (${name})`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: protectedKeyPolicy({
        accountId: args.accountId,
        breakGlassRoleArn: args.breakGlassRoleArn,
        extra: args.elasticacheExportPrefix
          ? [{ Sid: 'ElastiCacheExport', Effect: 'Allow', Principal: { Service: exportService }, Action: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], Resource: '*' }]
          : [],
      }),
    }, { ...child, protect: true });
    this.kmsKeyArn = this.key.arn;

    // Object Lock is enabled by BucketObjectLockConfiguration below, never by the
    // bucket's own objectLockEnabled (changing that replaces the bucket).
    this.bucket = new aws.s3.Bucket(`${name}-bucket`, { forceDestroy: false }, { ...child, protect: true });
    const bucket = this.bucket.id;
    const arn = this.bucket.arn;

    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket, versioningConfiguration: { status: 'Enabled' } }, child);
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-sse`, {
      bucket,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: this.kmsKeyArn }, bucketKeyEnabled: true }],
    }, child);
    const publicAccess = new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    }, child);
    this.policy = new aws.s3.BucketPolicy(`${name}-policy`, {
      bucket,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Resource: [arn, pulumi.interpolate`${arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Sid: 'DenyRetentionChangesOutsideBreakGlass',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: PROTECTED_BUCKET_ACTIONS,
            Resource: [arn],
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': args.breakGlassRoleArn } },
          },
          ...(args.elasticacheExportPrefix
            ? [
                { Sid: 'ElastiCacheExportBucket', Effect: 'Allow', Principal: { Service: exportService }, Action: ['s3:GetBucketAcl', 's3:ListBucket', 's3:ListBucketMultipartUploads'], Resource: [arn] },
                { Sid: 'ElastiCacheExportObjects', Effect: 'Allow', Principal: { Service: exportService }, Action: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts'], Resource: [pulumi.interpolate`${arn}/${args.elasticacheExportPrefix}*`] },
              ]
            : []),
        ],
      }),
    }, { ...child, dependsOn: [publicAccess], aliases: [{ name: `${name}-tls-only` }] });
    // One lifecycle configuration per bucket: several would fight in a perpetual diff.
    this.lifecycle = new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
      bucket,
      rules: lifecycleRules(args.env, args.noncurrentVersionDays),
    }, { ...child, dependsOn: [versioning] });
    if (args.objectLockDays !== undefined) {
      // Needs versioning first; COMPLIANCE: nobody, root included, can shorten it.
      new aws.s3.BucketObjectLockConfiguration(`${name}-object-lock`, {
        bucket,
        objectLockEnabled: 'Enabled',
        rule: { defaultRetention: { mode: 'COMPLIANCE', days: args.objectLockDays } },
      }, { ...child, dependsOn: [versioning] });
    }
    this.registerOutputs({ bucket: this.bucket.bucket, bucketArn: arn, key: this.key.arn, kmsKeyArn: this.kmsKeyArn, lifecycle: this.lifecycle.id, policy: this.policy.id });
  }
}
