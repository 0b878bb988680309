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

const BUCKET_TYPES = ['aws:s3/bucket:Bucket', 'aws:s3/bucketV2:BucketV2'];
const ACL_TYPES = ['aws:s3/bucketAcl:BucketAcl', 'aws:s3/bucketAclV2:BucketAclV2'];
const PUBLIC_GRANTEES = /acs\.amazonaws\.com\/groups\/global\/(AllUsers|AuthenticatedUsers)/;

const policyStatements = (document: unknown): Props[] => {
  let doc: Props;
  try {
    doc = typeof document === 'string' ? JSON.parse(document) : (document as Props);
  } catch {
    return []; // unknown during preview: judged when known
  }
  return Array.isArray(doc?.Statement) ? doc.Statement : doc?.Statement ? [doc.Statement] : [];
};
const isEveryone = (principal: unknown): boolean =>
  principal === '*' || (typeof principal === 'object' && principal !== null && [(principal as Props).AWS].flat().includes('*'));

export const noPublicBuckets = resourcePolicy(
  'no-public-buckets',
  'Every public-access block flag is on; no bucket (Bucket or BucketV2) or ACL grants public access; no bucket policy allows "*".',
  ['aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', ...BUCKET_TYPES, ...ACL_TYPES, 'aws:s3/bucketPolicy:BucketPolicy'],
  (props, args, report) => {
    if (args.type.endsWith('BucketPublicAccessBlock')) {
      for (const flag of ['blockPublicAcls', 'blockPublicPolicy', 'ignorePublicAcls', 'restrictPublicBuckets']) if (props[flag] !== true) report(`${flag} must be true`);
      return;
    }
    if (args.type === 'aws:s3/bucketPolicy:BucketPolicy') {
      for (const st of policyStatements(props.policy)) if (st.Effect === 'Allow' && isEveryone(st.Principal) && !st.Condition) report('bucket policy allows Principal "*" without a condition');
      return;
    }
    if (/public/i.test(String(props.acl ?? ''))) report(`public ACL "${props.acl}"`);
    for (const grant of [...(props.grants ?? []), ...(props.accessControlPolicy?.grants ?? [])] as Props[]) {
      if (PUBLIC_GRANTEES.test(String(grant.uri ?? grant.grantee?.uri ?? ''))) report(`ACL grant to ${grant.uri ?? grant.grantee?.uri}`);
    }
  },
);

const OPEN = ['0.0.0.0/0', '::/0'];
export const noOpenIngress = resourcePolicy(
  'no-open-ingress',
  'No security group accepts traffic from 0.0.0.0/0 or ::/0.',
  ['aws:ec2/securityGroup:SecurityGroup', 'aws:ec2/securityGroupRule:SecurityGroupRule', 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule'],
  (props, args, report) => {
    const rules: Props[] =
      args.type === 'aws:ec2/securityGroup:SecurityGroup' ? props.ingress ?? [] : args.type === 'aws:ec2/securityGroupRule:SecurityGroupRule' ? (props.type === 'ingress' ? [props] : []) : [props];
    for (const rule of rules) {
      for (const cidr of [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? []), rule.cidrIpv4, rule.cidrIpv6]) if (OPEN.includes(cidr)) report(`ingress from ${cidr} (port ${rule.fromPort ?? '?'})`);
    }
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
        for (const d of (props.ebsBlockDevices ?? []) as Props[]) if (d.encrypted !== true) report(`EBS block device ${d.deviceName} must be encrypted`);
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

/** Actions that support no resource-level permissions: "*" is allowed for them only under a Condition. */
const RESOURCELESS = new Set(['cloudwatch:PutMetricData']);

/** IAM policy documents: Allow statements name their actions and resources. */
export function wildcardProblems(document: unknown): string[] {
  const problems: string[] = [];
  for (const s of policyStatements(document)) {
    if (s.Effect !== 'Allow') continue;
    const actions = [s.Action ?? []].flat().map(String);
    for (const action of actions) if (action === '*' || /:\*$/.test(action)) problems.push(`action "${action}"`);
    const resourceless = actions.length > 0 && actions.every((a) => RESOURCELESS.has(a)) && s.Condition;
    for (const resource of [s.Resource ?? []].flat()) if (resource === '*' && !resourceless) problems.push('resource "*"');
  }
  return problems;
}

/** AWS managed policies that grant whole services or everything. */
const BROAD_MANAGED = /^arn:aws:iam::aws:policy\/(AdministratorAccess|PowerUserAccess|IAMFullAccess|.*FullAccess)$/;

export const noWildcardIam = resourcePolicy(
  'no-wildcard-iam',
  'No "*" in IAM Allow actions or resources (policies, role policies, inline role policies), and no broad managed policy attached.',
  ['aws:iam/policy:Policy', 'aws:iam/rolePolicy:RolePolicy', 'aws:iam/role:Role', 'aws:iam/rolePolicyAttachment:RolePolicyAttachment', 'aws:iam/policyAttachment:PolicyAttachment', 'aws:iam/userPolicyAttachment:UserPolicyAttachment', 'aws:iam/groupPolicyAttachment:GroupPolicyAttachment'],
  (props, args, report) => {
    if (args.type === 'aws:iam/role:Role') {
      for (const inline of (props.inlinePolicies ?? []) as Props[]) for (const problem of wildcardProblems(inline.policy)) report(`inline policy ${inline.name ?? ''} allows ${problem}`);
      for (const arn of (props.managedPolicyArns ?? []) as string[]) if (BROAD_MANAGED.test(arn)) report(`managed policy ${arn} is too broad`);
      return;
    }
    if (args.type.endsWith('Attachment')) {
      if (BROAD_MANAGED.test(String(props.policyArn ?? ''))) report(`managed policy ${props.policyArn} is too broad`);
      return;
    }
    for (const problem of wildcardProblems(props.policy)) report(`IAM policy allows ${problem}`);
  },
);

// Dev's Docker volumes use retainOnDelete instead (destroy must work in dev); CrossGuard
// cannot see that option, so test/infra/dev-stack.test.ts holds it.
const STATEFUL = ['aws:s3/bucket:Bucket', 'aws:s3/bucketV2:BucketV2', 'aws:kms/key:Key', 'aws:ebs/volume:Volume', 'aws:elasticache/replicationGroup:ReplicationGroup', 'aws:ec2/instance:Instance'];

export const statefulProtected = resourcePolicy(
  'stateful-resources-protected',
  'Resources that hold data (buckets, keys, volumes, caches, database hosts) are protected from deletion.',
  STATEFUL,
  (_props, args, report) => {
    if (args.opts.protect !== true) report(`${args.type} must be created with protect: true`);
  },
);

const DIGEST = /@sha256:[a-f0-9]{64}$/;
const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;

export const imagesPinned = resourcePolicy(
  'images-pinned',
  'Images are pinned: pulled images to a tag or digest (never :latest), containers to an image id or digest, ECS tasks to a digest.',
  ['docker:index/remoteImage:RemoteImage', 'docker:index/container:Container', 'aws:ecs/taskDefinition:TaskDefinition'],
  (props, args, report) => {
    if (args.type === 'docker:index/remoteImage:RemoteImage') {
      if (!isPinned(props.name)) report(`image "${props.name}" is not pinned`);
      return;
    }
    if (args.type === 'docker:index/container:Container') {
      // A tag can be moved under a running stack; an image id or digest cannot.
      if (typeof props.image === 'string' && !IMAGE_ID.test(props.image) && !DIGEST.test(props.image)) report(`container image "${props.image}" is a mutable tag: use a RemoteImage's imageId or a digest`);
      return;
    }
    if (typeof props.containerDefinitions !== 'string') return;
    for (const c of JSON.parse(props.containerDefinitions) as Props[]) if (!DIGEST.test(String(c.image))) report(`container "${c.name}" image "${c.image}" is not pinned by digest`);
  },
);

const CREDENTIAL_NAME = /(PASSWORD|SECRET|TOKEN|API_KEY|AUTH)/i;
const CREDENTIAL_IN_URL = /:\/\/[^/\s:@]*:[^@/\s]+@/;

export const secretsNotInPlainText = resourcePolicy(
  'secrets-not-in-plain-text',
  'Credentials reach ECS tasks through `secrets` (Secrets Manager/SSM), never `environment`; user data holds no literal password.',
  ['aws:ecs/taskDefinition:TaskDefinition', 'aws:ec2/instance:Instance', 'aws:ec2/launchTemplate:LaunchTemplate'],
  (props, args, report) => {
    if (args.type === 'aws:ecs/taskDefinition:TaskDefinition') {
      if (typeof props.containerDefinitions !== 'string') return;
      for (const c of JSON.parse(props.containerDefinitions) as Props[]) {
        for (const e of (c.environment ?? []) as Props[]) {
          if (CREDENTIAL_NAME.test(String(e.name)) || CREDENTIAL_IN_URL.test(String(e.value))) report(`container "${c.name}" has ${e.name} in plain environment: use secrets`);
        }
      }
      return;
    }
    const userData = String(props.userData ?? '');
    if (/PASSWORD=['"]?[^\s'"$]/.test(userData) || CREDENTIAL_IN_URL.test(userData)) report('user data contains a literal credential (readable through DescribeInstanceAttribute)');
  },
);

export const retentionAuthority = resourcePolicy(
  'one-retention-authority',
  'Lifecycle rules never expire current objects and never touch pgbackrest/ (the runbook and pgBackRest own retention).',
  ['aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', 'aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2'],
  (props, _args, report) => {
    for (const rule of (props.rules ?? []) as Props[]) {
      if (rule.expiration) report(`rule ${rule.id}: expires current objects; only backup.ts prune may delete backups`);
      const prefix = String(rule.filter?.prefix ?? rule.filter?.and?.prefix ?? rule.prefix ?? '');
      if (prefix === '' || prefix.startsWith('pgbackrest')) report(`rule ${rule.id}: covers pgbackrest/ (prefix "${prefix}"); pgBackRest owns its retention`);
    }
  },
);

export const objectLockCompliance = resourcePolicy(
  'object-lock-compliance',
  'Object Lock is COMPLIANCE mode through BucketObjectLockConfiguration, never the bucket\'s objectLockEnabled (changing it replaces the bucket).',
  ['aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration', 'aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2', ...BUCKET_TYPES],
  (props, args, report) => {
    if (BUCKET_TYPES.includes(args.type)) {
      if (props.objectLockEnabled !== undefined) report('objectLockEnabled on the bucket forces a replacement: use BucketObjectLockConfiguration');
      return;
    }
    const mode = props.rule?.defaultRetention?.mode;
    if (mode !== 'COMPLIANCE') report(`Object Lock mode ${mode ?? '(none)'}: must be COMPLIANCE`);
  },
);

export const kmsKeysGuarded = resourcePolicy(
  'kms-keys-guarded',
  'Every KMS key policy denies kms:ScheduleKeyDeletion and kms:DisableKey outside a break-glass role.',
  ['aws:kms/key:Key'],
  (props, _args, report) => {
    if (props.policy === undefined) {
      report('no key policy: anyone with account-level KMS rights can schedule deletion');
      return;
    }
    const denied = policyStatements(props.policy).filter((st) => st.Effect === 'Deny' && st.Condition).flatMap((st) => [st.Action].flat());
    for (const action of ['kms:ScheduleKeyDeletion', 'kms:DisableKey']) if (!denied.includes(action) && !denied.includes('kms:*')) report(`key policy does not deny ${action} outside the break-glass role`);
  },
);

const dependsOn = (r: PolicyResource, target: PolicyResource, prop = 'bucket') => (r.propertyDependencies[prop] ?? []).some((d) => d.urn === target.urn);

export const lifecycleOnEveryBucket: StackValidationPolicy = {
  name: 'backup-bucket-lifecycle',
  description: 'Every bucket has exactly one lifecycle configuration and one public-access block.',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    const buckets = args.resources.filter((r) => BUCKET_TYPES.includes(r.type));
    for (const bucket of buckets) {
      const lifecycles = args.resources.filter((r) => r.type === 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration' && dependsOn(r, bucket));
      if (lifecycles.length !== 1) report(`bucket ${bucket.name} has ${lifecycles.length} lifecycle configurations; it needs exactly one`, bucket.urn);
      const blocks = args.resources.filter((r) => r.type === 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock' && dependsOn(r, bucket));
      if (blocks.length === 0) report(`bucket ${bucket.name} has no public-access block`, bucket.urn);
    }
  },
};

const GUARDED_ACTIONS = ['s3:PutLifecycleConfiguration', 's3:PutBucketPolicy'];

export const bucketRetentionGuarded: StackValidationPolicy = {
  name: 'bucket-retention-guarded',
  description: 'Every bucket has a policy denying lifecycle and policy changes outside a break-glass role.',
  enforcementLevel: 'mandatory',
  validateStack: (args, report) => {
    for (const bucket of args.resources.filter((r) => BUCKET_TYPES.includes(r.type))) {
      const denied = args.resources
        .filter((r) => r.type === 'aws:s3/bucketPolicy:BucketPolicy' && dependsOn(r, bucket))
        .flatMap((r) => policyStatements(r.props.policy))
        .filter((st) => st.Effect === 'Deny' && isEveryone(st.Principal) && st.Condition?.ArnNotEquals?.['aws:PrincipalArn'])
        .flatMap((st) => [st.Action].flat());
      for (const action of GUARDED_ACTIONS) if (!denied.includes(action)) report(`bucket ${bucket.name}: no policy denies ${action} outside the break-glass role`, bucket.urn);
    }
  },
};

export const policies = [
  noPublicBuckets,
  noOpenIngress,
  encryptionEverywhere,
  noWildcardIam,
  statefulProtected,
  imagesPinned,
  secretsNotInPlainText,
  retentionAuthority,
  objectLockCompliance,
  kmsKeysGuarded,
  lifecycleOnEveryBucket,
  bucketRetentionGuarded,
];
