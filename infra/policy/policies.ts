import type { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';

/**
 * What must never regress. Policies match on type tokens so they also
 * cover resources created outside this program's components.
 */
type Props = Record<string, any>;

const resourcePolicy = (name: string, description: string, types: string[], check: (props: Props, args: ResourceValidationArgs, report: ReportViolation) => void): ResourceValidationPolicy => ({
  name,
  description,
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (types.includes(args.type)) check(args.props, args, report);
  },
});

const PINNED = /^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/;
const isPinned = (ref: unknown): boolean => typeof ref === 'string' && PINNED.test(ref) && !ref.endsWith(':latest');

export const noPublicBuckets = resourcePolicy(
  'no-public-buckets',
  'Every public-access block flag is on, and no bucket has a public ACL.',
  ['aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', 'aws:s3/bucket:Bucket', 'aws:s3/bucketAcl:BucketAcl'],
  (props, args, report) => {
    if (args.type.endsWith('BucketPublicAccessBlock')) {
      for (const flag of ['blockPublicAcls', 'blockPublicPolicy', 'ignorePublicAcls', 'restrictPublicBuckets']) if (props[flag] !== true) report(`${flag} must be true`);
    } else if (/public/i.test(String(props.acl ?? ''))) report(`public ACL "${props.acl}"`);
  },
);

export const encryptionEverywhere = resourcePolicy(
  'encryption-everywhere',
  'Buckets use SSE-KMS; EBS volumes, instance root disks, Redis and queues are encrypted.',
  ['aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', 'aws:ebs/volume:Volume', 'aws:ec2/instance:Instance', 'aws:elasticache/replicationGroup:ReplicationGroup', 'aws:sqs/queue:Queue'],
  (props, args, report) => {
    switch (args.type) {
      case 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration':
        if (!(props.rules ?? []).some((r: Props) => r.applyServerSideEncryptionByDefault?.sseAlgorithm === 'aws:kms')) report('default encryption must be aws:kms');
        break;
      case 'aws:ebs/volume:Volume':
        if (props.encrypted !== true) report('EBS volume must be encrypted');
        break;
      case 'aws:ec2/instance:Instance':
        if (props.rootBlockDevice?.encrypted !== true) report('root block device must be encrypted');
        break;
      case 'aws:elasticache/replicationGroup:ReplicationGroup':
        if (props.atRestEncryptionEnabled !== true) report('encryption at rest must be enabled');
        if (props.transitEncryptionEnabled !== true) report('encryption in transit must be enabled');
        break;
      case 'aws:sqs/queue:Queue':
        if (props.sqsManagedSseEnabled !== true && !props.kmsMasterKeyId) report('queue must be encrypted (SQS-managed SSE or KMS)');
        break;
    }
  },
);

/** IAM policy documents: Allow statements name their actions and resources. */
export function wildcardProblems(document: unknown): string[] {
  let doc: Props;
  try {
    doc = typeof document === 'string' ? JSON.parse(document) : (document as Props);
  } catch {
    return []; // unknown during preview: judged when known
  }
  const problems: string[] = [];
  const statements = Array.isArray(doc?.Statement) ? doc.Statement : doc?.Statement ? [doc.Statement] : [];
  for (const s of statements as Props[]) {
    if (s.Effect !== 'Allow') continue;
    for (const action of [s.Action ?? []].flat()) if (action === '*' || /:\*$/.test(String(action))) problems.push(`action "${action}"`);
    for (const resource of [s.Resource ?? []].flat()) if (resource === '*') problems.push('resource "*"');
  }
  return problems;
}

export const noWildcardIam = resourcePolicy(
  'no-wildcard-iam',
  'No "*" in IAM Allow actions or resources.',
  ['aws:iam/policy:Policy', 'aws:iam/rolePolicy:RolePolicy'],
  (props, _args, report) => {
    for (const problem of wildcardProblems(props.policy)) report(`IAM policy allows ${problem}`);
  },
);

const STATEFUL = ['aws:s3/bucket:Bucket', 'aws:kms/key:Key', 'aws:ebs/volume:Volume', 'aws:elasticache/replicationGroup:ReplicationGroup', 'aws:ec2/instance:Instance', 'docker:index/volume:Volume'];

export const statefulProtected = resourcePolicy(
  'stateful-resources-protected',
  'Resources that hold data (buckets, keys, volumes, caches, database hosts) are protected from deletion.',
  STATEFUL,
  (_props, args, report) => {
    if (args.opts.protect !== true) report(`${args.type} must be created with protect: true`);
  },
);

export const imagesPinned = resourcePolicy(
  'images-pinned',
  'Container images are pinned to a tag or digest, never :latest.',
  ['docker:index/remoteImage:RemoteImage', 'aws:ecs/taskDefinition:TaskDefinition'],
  (props, args, report) => {
    if (args.type === 'docker:index/remoteImage:RemoteImage') {
      if (!isPinned(props.name)) report(`image "${props.name}" is not pinned`);
      return;
    }
    if (typeof props.containerDefinitions !== 'string') return;
    for (const c of JSON.parse(props.containerDefinitions) as Props[]) if (!isPinned(c.image)) report(`container "${c.name}" image "${c.image}" is not pinned`);
  },
);

const dependsOn = (r: PolicyResource, target: PolicyResource, prop = 'bucket') => (r.propertyDependencies[prop] ?? []).some((d) => d.urn === target.urn);

export const lifecycleOnEveryBucket: StackValidationPolicy = {
  name: 'backup-bucket-lifecycle',
  description: 'Every bucket has exactly one lifecycle configuration and one public-access block.',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    const buckets = args.resources.filter((r) => r.type === 'aws:s3/bucket:Bucket');
    for (const bucket of buckets) {
      const lifecycles = args.resources.filter((r) => r.type === 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration' && dependsOn(r, bucket));
      if (lifecycles.length !== 1) report(`bucket ${bucket.name} has ${lifecycles.length} lifecycle configurations; it needs exactly one`, bucket.urn);
      const blocks = args.resources.filter((r) => r.type === 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock' && dependsOn(r, bucket));
      if (blocks.length === 0) report(`bucket ${bucket.name} has no public-access block`, bucket.urn);
    }
  },
};

export const policies = [noPublicBuckets, encryptionEverywhere, noWildcardIam, statefulProtected, imagesPinned, lifecycleOnEveryBucket];
