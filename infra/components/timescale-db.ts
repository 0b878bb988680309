import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { ec2Host } from './ec2-host';
import { timescaleUserData } from './user-data';

/** An existing server or Timescale Cloud. */
export interface ExternalTimescaleDbArgs {
  readonly mode: 'external';
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
}

/** timescaledb-ha on EC2 with its data on encrypted EBS, WAL archived to the backup bucket. */
export interface Ec2TimescaleDbArgs {
  readonly mode: 'ec2';
  readonly vpcId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  readonly amiId: pulumi.Input<string>;
  readonly instanceType: pulumi.Input<string>;
  readonly volumeGiB: pulumi.Input<number>;
  /** A pinned timescale/timescaledb-ha image. */
  readonly image: string;
  readonly allowedCidrs: pulumi.Input<string>[];
  readonly region: string;
  /** Backup bucket for pgBackRest (WAL archive + backups under pgbackrest/). */
  readonly backupBucket: pulumi.Input<string>;
  readonly backupBucketArn: pulumi.Input<string>;
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Secrets Manager secret holding the superuser password; read at boot, never in user data. */
  readonly superuserSecretArn: pulumi.Input<string>;
  /** pgBackRest keeps full backups (and the WAL they need) this many days. */
  readonly retentionFullDays: number;
}

export type TimescaleDbArgs = ExternalTimescaleDbArgs | Ec2TimescaleDbArgs;

export const PGBACKREST_STANZA = 'tickvault';

/**
 * PostgreSQL with TimescaleDB: the timescaledb-ha image on EC2, archiving WAL
 * to the backup bucket through pgBackRest (which the image ships), TLS on,
 * the `tickvault` database created; or an external / Timescale Cloud
 * endpoint. RDS is not an option: it does not offer TimescaleDB.
 */
export class TimescaleDb extends pulumi.ComponentResource {
  readonly host: pulumi.Output<string>;
  readonly port: pulumi.Output<number>;
  /** ec2 mode: where the server's log (archive failures included) goes. */
  readonly logGroup?: aws.cloudwatch.LogGroup;

  constructor(name: string, args: TimescaleDbArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:database:TimescaleDb', name, {}, opts);
    if (args.mode === 'external') {
      this.host = pulumi.output(args.host);
      this.port = pulumi.output(args.port);
    } else {
      const port = 5432;
      this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: 90 }, { parent: this });
      const userData = pulumi.all([args.backupBucket, args.superuserSecretArn, this.logGroup.name]).apply(([bucket, secretArn, logGroup]) =>
        timescaleUserData({ region: args.region, logGroup, secretArn, secretEnvName: 'POSTGRES_PASSWORD', owner: '1000:1000', dataDir: 'postgres', image: args.image, bucket, stanza: PGBACKREST_STANZA, retentionFullDays: args.retentionFullDays }),
      );
      const host = ec2Host(name, {
        vpcId: args.vpcId,
        subnetId: args.subnetId,
        amiId: args.amiId,
        instanceType: args.instanceType,
        volumeGiB: args.volumeGiB,
        port,
        allowedCidrs: args.allowedCidrs,
        userData,
        logGroupName: this.logGroup.name,
        statements: [
          { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.backupBucketArn], Condition: { StringLike: { 's3:prefix': ['pgbackrest/*', 'pgbackrest'] } } },
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: [pulumi.interpolate`${args.backupBucketArn}/pgbackrest/*`] },
          { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: [args.kmsKeyArn] },
          { Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [args.superuserSecretArn] },
        ],
      }, this);
      this.host = host.instance.privateIp;
      this.port = pulumi.output(port);
    }
    this.registerOutputs({ host: this.host, port: this.port, logGroup: this.logGroup?.name });
  }
}
