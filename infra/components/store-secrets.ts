import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

/** A generated password: letters and digits only, so it is safe in URLs and env files unescaped. */
export function generatedPassword(name: string, length: number, parent?: pulumi.Resource): random.RandomPassword {
  return new random.RandomPassword(name, { length, special: false }, { parent, additionalSecretOutputs: ['result'] });
}

/**
 * One Secrets Manager secret. Tasks receive it through their container's
 * `secrets` (the execution role may read exactly these ARNs); hosts read it
 * at boot. The value never appears in user data, task definitions or outputs.
 */
export class StoredSecret extends pulumi.ComponentResource {
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: { description: string; value: pulumi.Input<string>; stack: string }, opts?: pulumi.ComponentResourceOptions) {
    super('tickvault:secrets:StoredSecret', name, {}, opts);
    const secret = new aws.secretsmanager.Secret(`${name}-secret`, { name: `tickvault/${args.stack}/${name}`, description: args.description, recoveryWindowInDays: 30 }, { parent: this });
    new aws.secretsmanager.SecretVersion(`${name}-value`, { secretId: secret.id, secretString: pulumi.secret(args.value) }, { parent: this, additionalSecretOutputs: ['secretString'] });
    this.arn = secret.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
