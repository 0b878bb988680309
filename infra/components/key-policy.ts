import * as pulumi from '@pulumi/pulumi';

/** Actions only the break-glass role may take on a KMS key: losing the key loses every backup. */
export const KEY_DESTRUCTION_ACTIONS = ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:PutKeyPolicy'];

/**
 * A key policy that keeps the account in charge (the default statement) but
 * denies deletion, disabling and policy rewrites to everyone except the
 * break-glass role, whatever their account-level KMS rights.
 */
export function protectedKeyPolicy(args: { accountId: pulumi.Input<string>; breakGlassRoleArn: pulumi.Input<string>; extra?: pulumi.Input<unknown>[] }): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'AccountAdministers', Effect: 'Allow', Principal: { AWS: pulumi.interpolate`arn:aws:iam::${args.accountId}:root` }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'DenyDestructionOutsideBreakGlass',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: KEY_DESTRUCTION_ACTIONS,
        Resource: '*',
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': args.breakGlassRoleArn } },
      },
      ...(args.extra ?? []),
    ],
  });
}
