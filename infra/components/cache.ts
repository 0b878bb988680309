import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface CacheArgs {
  readonly vpcId: pulumi.Input<string>;
  readonly subnetIds: pulumi.Input<string>[];
  readonly allowedCidrs: pulumi.Input<string>[];
  readonly nodeType: string;
  readonly engineVersion: string;
  /** Days of automatic snapshots (seed 004: Redis kept 7 days). */
  readonly snapshotRetentionDays: number;
  /** Daily snapshot window in UTC (seed 004: 05:00). */
  readonly snapshotWindow: string;
  /** Generated (random.RandomPassword); only the url output carries it, as a secret. */
  readonly authToken: pulumi.Input<string>;
}

/** ElastiCache Redis: encrypted at rest and in transit, AUTH token, daily snapshots. */
export class Cache extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string>;
  readonly replicationGroupId: pulumi.Output<string>;

  constructor(name: string, args: CacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:cache:Cache', name, {}, opts);
    const child = { parent: this };
    const subnets = new aws.elasticache.SubnetGroup(`${name}-subnets`, { subnetIds: args.subnetIds }, child);
    const securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
      vpcId: args.vpcId,
      description: `${name}: Redis TLS port from the private network only`,
      ingress: [{ protocol: 'tcp', fromPort: 6379, toPort: 6379, cidrBlocks: args.allowedCidrs }],
    }, child);
    const group = new aws.elasticache.ReplicationGroup(`${name}-redis`, {
      description: 'tickvault market snapshots',
      engine: 'redis',
      engineVersion: args.engineVersion,
      nodeType: args.nodeType,
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      subnetGroupName: subnets.name,
      securityGroupIds: [securityGroup.id],
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      authToken: args.authToken,
      snapshotRetentionLimit: args.snapshotRetentionDays,
      snapshotWindow: args.snapshotWindow,
    }, { ...child, protect: true, additionalSecretOutputs: ['authToken'] });
    this.replicationGroupId = group.id;
    this.url = pulumi.secret(pulumi.interpolate`rediss://default:${args.authToken}@${group.primaryEndpointAddress}:6379`);
    this.registerOutputs({ url: this.url, replicationGroupId: this.replicationGroupId });
  }
}
