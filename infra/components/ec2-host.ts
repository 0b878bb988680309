import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface Ec2HostArgs {
  readonly vpcId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  readonly amiId: pulumi.Input<string>;
  readonly instanceType: pulumi.Input<string>;
  readonly volumeGiB: pulumi.Input<number>;
  readonly port: number;
  readonly allowedCidrs: pulumi.Input<string>[];
  /** Rendered boot script: no secrets in it (DescribeInstanceAttribute can read user data). */
  readonly userData: pulumi.Input<string>;
  /** Inline IAM statements for the instance role (least privilege). */
  readonly statements: pulumi.Input<unknown>[];
  /** CloudWatch log group the container ships to. */
  readonly logGroupName: pulumi.Input<string>;
}

/** The data volume's device name in the block device mapping; user data finds it there. */
export const DATA_DEVICE = '/dev/sdf';

/**
 * A single-instance server with its data on an encrypted EBS volume (block
 * storage: Qdrant and PostgreSQL need it; EFS does not work for either).
 * The data volume is in the instance's block device mapping, so it is
 * attached before user data runs (a separate VolumeAttachment races
 * cloud-init), and kept when the instance goes. Session Manager for access,
 * container logs to CloudWatch. Built as a child of the component that owns it.
 */
export function ec2Host(name: string, args: Ec2HostArgs, parent: pulumi.Resource) {
  const child = { parent };
  const securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
    vpcId: args.vpcId,
    description: `${name}: service port from the private network only`,
    ingress: [{ protocol: 'tcp', fromPort: args.port, toPort: args.port, cidrBlocks: args.allowedCidrs }],
    egress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'], description: 'HTTPS to AWS APIs and registries' }],
  }, child);
  const role = new aws.iam.Role(`${name}-role`, {
    assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
  }, child);
  new aws.iam.RolePolicy(`${name}-policy`, {
    role: role.id,
    policy: pulumi.jsonStringify({
      Version: '2012-10-17',
      Statement: [
        ...args.statements,
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], Resource: [pulumi.interpolate`arn:aws:logs:*:*:log-group:${args.logGroupName}:*`] },
      ],
    }),
  }, child);
  // Session Manager instead of SSH: no inbound port, every session audited.
  new aws.iam.RolePolicyAttachment(`${name}-ssm`, { role: role.name, policyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore' }, child);
  const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name }, child);
  const instance = new aws.ec2.Instance(`${name}-instance`, {
    ami: args.amiId,
    instanceType: args.instanceType,
    subnetId: args.subnetId,
    vpcSecurityGroupIds: [securityGroup.id],
    iamInstanceProfile: profile.name,
    userData: args.userData,
    // Hop limit 2: the container (bridge network) reaches IMDSv2 for the role's credentials.
    metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 2 },
    rootBlockDevice: { encrypted: true, volumeType: 'gp3', volumeSize: 30 },
    ebsBlockDevices: [{ deviceName: DATA_DEVICE, volumeSize: args.volumeGiB, volumeType: 'gp3', encrypted: true, deleteOnTermination: false }],
  }, { ...child, protect: true });
  return { securityGroup, role, instance };
}
