import type * as pulumi from '@pulumi/pulumi';

/** What both targets export, so runbooks work against either stack. */
export interface StackOutputs {
  postgres: { host: pulumi.Input<string>; port: pulumi.Input<number>; url: pulumi.Input<string> };
  redis: { url: pulumi.Input<string> };
  qdrant: { url: pulumi.Input<string> };
  s3: { bucket: pulumi.Input<string>; endpoint: pulumi.Input<string> };
  backupRepo: pulumi.Input<string>;
  envVault: pulumi.Input<string>;
}
