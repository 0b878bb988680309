import * as pulumi from '@pulumi/pulumi';
import { containerUserData, ec2Host } from './ec2-host';

export interface VectorStoreArgs {
  readonly vpcId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  readonly amiId: pulumi.Input<string>;
  readonly instanceType: string;
  readonly volumeGiB: number;
  /** A pinned qdrant/qdrant image. */
  readonly image: string;
  readonly allowedCidrs: pulumi.Input<string>[];
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Qdrant on EC2 with its storage on encrypted EBS (block storage; never EFS or NFS). */
export class VectorStore extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: VectorStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:vector:VectorStore', name, {}, opts);
    const port = 6333;
    const host = ec2Host(name, {
      ...args,
      port,
      userData: containerUserData(args.image, '/data', `-p ${port}:6333 -v /data/qdrant:/qdrant/storage -v /data/qdrant-snapshots:/qdrant/snapshots`),
    }, this);
    this.url = pulumi.interpolate`http://${host.instance.privateIp}:${port}`;
    this.registerOutputs({ url: this.url });
  }
}
