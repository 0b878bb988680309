import * as pulumi from '@pulumi/pulumi';
import { containerUserData, ec2Host } from './ec2-host';

export interface TimescaleDbArgs {
  readonly mode: 'ec2' | 'external';
  /** external: an existing server or Timescale Cloud. */
  readonly host?: pulumi.Input<string>;
  readonly port?: number;
  /** ec2: where and how big. */
  readonly vpcId?: pulumi.Input<string>;
  readonly subnetId?: pulumi.Input<string>;
  readonly amiId?: pulumi.Input<string>;
  readonly instanceType?: string;
  readonly volumeGiB?: number;
  readonly image?: string;
  readonly allowedCidrs?: pulumi.Input<string>[];
  /** Backup bucket for pgBackRest (WAL archive + backups under pgbackrest/). */
  readonly backupBucket?: pulumi.Input<string>;
  readonly backupBucketArn?: pulumi.Input<string>;
  readonly kmsKeyArn?: pulumi.Input<string>;
  readonly superuserPassword?: pulumi.Input<string>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * PostgreSQL with TimescaleDB: the timescaledb-ha image on EC2 with an
 * encrypted EBS volume, archiving WAL to the backup bucket through pgBackRest
 * (which the image ships); or an external / Timescale Cloud endpoint.
 * RDS is not an option: it does not offer TimescaleDB.
 */
export class TimescaleDb extends pulumi.ComponentResource {
  readonly host: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;

  constructor(name: string, args: TimescaleDbArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:database:TimescaleDb', name, {}, opts);
    if (args.mode === 'external') {
      this.host = pulumi.output(args.host!);
      this.port = pulumi.output(args.port ?? 5432);
    } else {
      const port = 5432;
      const env = pulumi.all([args.backupBucket!, args.superuserPassword ?? '']).apply(([bucket, password]) =>
        [
          `-e POSTGRES_PASSWORD='${password}'`,
          `-e PGBACKREST_REPO1_TYPE=s3 -e PGBACKREST_REPO1_S3_BUCKET=${bucket} -e PGBACKREST_REPO1_PATH=/pgbackrest`,
          '-e PGBACKREST_REPO1_S3_KEY_TYPE=auto -e PGBACKREST_ARCHIVE_COPY=y -e PGBACKREST_REPO1_RETENTION_FULL_TYPE=time -e PGBACKREST_REPO1_RETENTION_FULL=30',
          `-p ${port}:5432 -v /data/postgres:/home/postgres/pgdata`,
        ].join(' '),
      );
      const host = ec2Host(name, {
        vpcId: args.vpcId!,
        subnetId: args.subnetId!,
        amiId: args.amiId!,
        instanceType: args.instanceType ?? 'm6i.large',
        volumeGiB: args.volumeGiB ?? 200,
        port,
        allowedCidrs: args.allowedCidrs ?? [],
        userData: env.apply((runArgs) => containerUserData(args.image!, '/data', runArgs)),
        statements: [
          { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.backupBucketArn!] },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: [pulumi.interpolate`${args.backupBucketArn!}/pgbackrest/*`] },
          { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: [args.kmsKeyArn!] },
        ],
        tags: args.tags,
      }, this);
      this.host = host.instance.privateIp;
      this.port = pulumi.output(port);
    }
    this.registerOutputs({ host: this.host, port: this.port });
  }
}
