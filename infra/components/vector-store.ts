import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { ec2Host } from './ec2-host';
import { qdrantUserData } from './user-data';

export interface VectorStoreArgs {
  readonly vpcId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  readonly amiId: pulumi.Input<string>;
  readonly instanceType: pulumi.Input<string>;
  readonly volumeGiB: pulumi.Input<number>;
  /** A pinned qdrant/qdrant image. */
  readonly image: string;
  readonly allowedCidrs: pulumi.Input<string>[];
  readonly region: string;
  /** Secrets Manager secret holding the API key (QDRANT__SERVICE__API_KEY); read at boot. */
  readonly apiKeySecretArn: pulumi.Input<string>;
}

/**
 * Qdrant on EC2 with its storage on encrypted EBS (block storage; never EFS
 * or NFS), an API key, and a listener on the private address only.
 */
export class VectorStore extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: VectorStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:vector:VectorStore', name, {}, opts);
    const port = 6333;
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: 90 }, { parent: this });
    const userData = pulumi.all([args.apiKeySecretArn, logGroup.name]).apply(([secretArn, group]) =>
      qdrantUserData({ region: args.region, logGroup: group, secretArn, secretEnvName: 'QDRANT__SERVICE__API_KEY', owner: '0:0', dataDir: 'qdrant', image: args.image }),
    );
    const host = ec2Host(name, {
      vpcId: args.vpcId,
      subnetId: args.subnetId,
      amiId: args.amiId,
      instanceType: args.instanceType,
      volumeGiB: args.volumeGiB,
      allowedCidrs: args.allowedCidrs,
      port,
      userData,
      logGroupName: logGroup.name,
      statements: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [args.apiKeySecretArn] }],
    }, this);
    this.url = pulumi.interpolate`http://${host.instance.privateIp}:${port}`;
    this.registerOutputs({ url: this.url });
  }
}
