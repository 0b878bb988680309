import type * as pulumi from '@pulumi/pulumi';

/** What both targets export, so runbooks work against either stack. Credentials are secret outputs. */
export interface StackOutputs {
  postgres: { host: pulumi.Input<string>; port: pulumi.Input<number>; url: pulumi.Input<string> };
  redis: { url: pulumi.Input<string> };
  qdrant: { url: pulumi.Input<string> };
  /** Enough for BACKUP_REPO + S3_ENDPOINT + AWS_* against this stack's bucket. */
  s3: { bucket: pulumi.Input<string>; endpoint: pulumi.Input<string>; region: pulumi.Input<string>; accessKeyId?: pulumi.Input<string>; secretAccessKey?: pulumi.Input<string> };
  backupRepo: pulumi.Input<string>;
  envVault: pulumi.Input<string>;
  /** dev: the bucket job's exit code (the update fails unless it is 0). */
  bucketSetupExitCode?: pulumi.Input<number>;
  /** prod: the SNS topic every alarm notifies. */
  alarmTopic?: pulumi.Input<string>;
}
