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
  readonly userData: pulumi.Input<string>;
  /** Inline IAM statements for the instance role (least privilege). */
  readonly statements?: pulumi.Input<unknown>[];
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * A single-instance server with its data on an encrypted EBS volume (block
 * storage: Qdrant and PostgreSQL need it; EFS does not work for either).
 * Built as a child of the component that owns it.
 */
export function ec2Host(name: string, args: Ec2HostArgs, parent: pulumi.Resource) {
  const child = { parent };
  const securityGroup = new aws.ec2.SecurityGroup(`${name}-sg`, {
    vpcId: args.vpcId,
    description: `${name}: service port from the private network only`,
    ingress: [{ protocol: 'tcp', fromPort: args.port, toPort: args.port, cidrBlocks: args.allowedCidrs }],
    egress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'], description: 'HTTPS to AWS APIs and registries' }],
    tags: args.tags,
  }, child);
  const role = new aws.iam.Role(`${name}-role`, {
    assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    tags: args.tags,
  }, child);
  if (args.statements?.length) {
    new aws.iam.RolePolicy(`${name}-policy`, { role: role.id, policy: pulumi.jsonStringify({ Version: '2012-10-17', Statement: args.statements }) }, child);
  }
  const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags: args.tags }, child);
  const instance = new aws.ec2.Instance(`${name}-instance`, {
    ami: args.amiId,
    instanceType: args.instanceType,
    subnetId: args.subnetId,
    vpcSecurityGroupIds: [securityGroup.id],
    iamInstanceProfile: profile.name,
    userData: args.userData,
    metadataOptions: { httpTokens: 'required' },
    rootBlockDevice: { encrypted: true, volumeType: 'gp3', volumeSize: 30 },
    tags: args.tags,
  }, { ...child, protect: true });
  const volume = new aws.ebs.Volume(`${name}-data`, {
    availabilityZone: instance.availabilityZone,
    size: args.volumeGiB,
    type: 'gp3',
    encrypted: true,
    tags: args.tags,
  }, { ...child, protect: true });
  new aws.ec2.VolumeAttachment(`${name}-data-attachment`, { deviceName: '/dev/sdf', volumeId: volume.id, instanceId: instance.id }, child);
  return { securityGroup, role, instance, volume };
}

/** Mount the data volume and run one pinned container on it. */
export function containerUserData(image: string, mountPoint: string, runArgs: string): string {
  return `#!/bin/bash
set -euo pipefail
dev=$(lsblk -dpno NAME | grep -v "$(findmnt -no SOURCE / | sed 's/p[0-9]*$//')" | tail -1)
blkid "$dev" || mkfs.ext4 "$dev"
mkdir -p ${mountPoint} && mount "$dev" ${mountPoint} && echo "$dev ${mountPoint} ext4 defaults,nofail 0 2" >> /etc/fstab
dnf install -y docker && systemctl enable --now docker
docker run -d --restart unless-stopped ${runArgs} ${image}
`;
}
