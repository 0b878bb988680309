import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { RetentionRule } from './retention';

export interface BackupBucketArgs {
  /** Per-prefix expiry, from retentionRules(). */
  readonly rules: RetentionRule[];
  /** Days before a noncurrent (overwritten or deleted) version expires. */
  readonly noncurrentVersionDays: pulumi.Input<number>;
  /** KMS key for SSE-KMS; a dedicated key is created when omitted. */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /** Object Lock (governance mode) for this many days; off when omitted. */
  readonly objectLockDays?: number;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The backup repository bucket: versioned, SSE-KMS, every public-access
 * block on, TLS-only, and exactly one lifecycle configuration.
 */
export class BackupBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly kmsKeyArn: pulumi.Output<string>;
  readonly lifecycle: aws.s3.BucketLifecycleConfiguration;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:storage:BackupBucket', name, {}, opts);
    const child = { parent: this };

    const key = args.kmsKeyArn
      ? undefined
      : new aws.kms.Key(`${name}-key`, { description: `tickvault backups (${name})`, enableKeyRotation: true, deletionWindowInDays: 30, tags: args.tags }, { ...child, protect: true });
    this.kmsKeyArn = pulumi.output(args.kmsKeyArn ?? key!.arn);

    this.bucket = new aws.s3.Bucket(`${name}-bucket`, { objectLockEnabled: args.objectLockDays !== undefined, forceDestroy: false, tags: args.tags }, { ...child, protect: true });
    const bucket = this.bucket.id;

    new aws.s3.BucketVersioning(`${name}-versioning`, { bucket, versioningConfiguration: { status: 'Enabled' } }, child);
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
    new aws.s3.BucketPolicy(`${name}-tls-only`, {
      bucket,
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [{
          Sid: 'DenyInsecureTransport',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 's3:*',
          Resource: [this.bucket.arn, pulumi.interpolate`${this.bucket.arn}/*`],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }],
      }),
    }, { ...child, dependsOn: [publicAccess] });
    // One lifecycle configuration per bucket: several would fight in a perpetual diff.
    this.lifecycle = new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, {
      bucket,
      rules: [
        ...args.rules.map((rule) => ({
          id: rule.id,
          status: 'Enabled',
          filter: { prefix: rule.prefix },
          expiration: { days: rule.days },
          noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays },
        })),
        { id: 'abort-incomplete-uploads', status: 'Enabled', filter: { prefix: '' }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
      ],
    }, child);
    if (args.objectLockDays !== undefined) {
      new aws.s3.BucketObjectLockConfiguration(`${name}-object-lock`, {
        bucket,
        objectLockEnabled: 'Enabled',
        rule: { defaultRetention: { mode: 'GOVERNANCE', days: args.objectLockDays } },
      }, child);
    }
    this.registerOutputs({ bucket: this.bucket.id, kmsKeyArn: this.kmsKeyArn });
  }
}
