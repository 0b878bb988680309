import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { protectedKeyPolicy } from './key-policy';

export interface EnvVaultArgs {
  /** SSM path prefix, e.g. /tickvault/prod. */
  readonly prefix: string;
  /** The only role that may delete, disable or re-policy the key. */
  readonly breakGlassRoleArn: pulumi.Input<string>;
}

/**
 * Where env.ts keeps versions in prod: an SSM Parameter Store prefix and a
 * KMS key that wraps each version's data key, plus a least-privilege policy
 * the runbook role attaches.
 */
export class EnvVault extends pulumi.ComponentResource {
  readonly key: aws.kms.Key;
  readonly prefix: string;
  readonly policy: aws.iam.Policy;

  constructor(name: string, args: EnvVaultArgs, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:env:EnvVault', name, {}, opts);
    this.prefix = args.prefix;
    const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
    this.key = new aws.kms.Key(`${name}-key`, {
      description: `tickvault environment vault ${args.prefix}`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: protectedKeyPolicy({ accountId: account, breakGlassRoleArn: args.breakGlassRoleArn }),
    }, { parent: this, protect: true });
    new aws.kms.Alias(`${name}-alias`, { name: `alias/tickvault${args.prefix.replace(/\//g, '-')}-env`, targetKeyId: this.key.keyId }, { parent: this });
    const region = aws.getRegionOutput({}, { parent: this }).region;
    this.policy = new aws.iam.Policy(`${name}-access`, {
      description: 'tickvault env.ts: read and write versions under the vault prefix',
      policy: pulumi.jsonStringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['ssm:GetParametersByPath', 'ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameters'],
            Resource: [pulumi.interpolate`arn:aws:ssm:${region}:${account}:parameter${args.prefix}/*`],
          },
          { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: [this.key.arn] },
        ],
      }),
    }, { parent: this });
    this.registerOutputs({ key: this.key.arn, prefix: this.prefix, policy: this.policy.arn });
  }
}
