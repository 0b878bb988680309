import * as pulumi from '@pulumi/pulumi';

/** Resource types this program creates that take AWS tags. */
export const TAGGABLE = new Set([
  'aws:s3/bucket:Bucket',
  'aws:kms/key:Key',
  'aws:ec2/securityGroup:SecurityGroup',
  'aws:ec2/instance:Instance',
  'aws:ebs/volume:Volume',
  'aws:iam/role:Role',
  'aws:iam/policy:Policy',
  'aws:iam/instanceProfile:InstanceProfile',
  'aws:elasticache/subnetGroup:SubnetGroup',
  'aws:elasticache/replicationGroup:ReplicationGroup',
  'aws:ecs/cluster:Cluster',
  'aws:ecs/taskDefinition:TaskDefinition',
  'aws:cloudwatch/logGroup:LogGroup',
  'aws:sqs/queue:Queue',
]);

/** Every taggable resource gets the stack's tags (its own win on conflict). */
export function tagEverything(tags: Record<string, string>): void {
  pulumi.runtime.registerStackTransformation((args) => {
    if (!TAGGABLE.has(args.type)) return undefined;
    return { props: { ...args.props, tags: { ...tags, ...(args.props.tags ?? {}) } }, opts: args.opts };
  });
}
