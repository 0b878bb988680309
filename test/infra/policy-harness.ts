// An awsguard-style harness: build validation args, run one policy, collect violations.
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';

const options = (protect: boolean) => ({ protect, ignoreChanges: [], aliases: [], additionalSecretOutputs: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 } });

export function createResourceValidationArgs(type: string, props: Record<string, unknown>, opts: { protect?: boolean; name?: string } = {}): ResourceValidationArgs {
  const name = opts.name ?? 'r';
  return {
    type,
    props,
    urn: `urn:pulumi:test::tickvault::${type}::${name}`,
    name,
    opts: options(opts.protect ?? false),
    stackTags: new Map(),
    isType: (cls: any) => cls?.__pulumiType === type,
    asType: ((cls: any) => (cls?.__pulumiType === type ? props : undefined)) as ResourceValidationArgs['asType'],
    getConfig: (() => ({})) as ResourceValidationArgs['getConfig'],
    notApplicable: (reason?: string) => {
      throw new Error(`not applicable: ${reason}`);
    },
  } as ResourceValidationArgs;
}

export async function resourceViolations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<string[]> {
  const found: string[] = [];
  const validate = policy.validateResource;
  for (const fn of Array.isArray(validate) ? validate : [validate]) await fn?.(args, (message) => found.push(message));
  return found;
}

export async function assertNoResourceViolations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<void> {
  const found = await resourceViolations(policy, args);
  if (found.length) throw new Error(`expected no violations, got: ${found.join('; ')}`);
}

export async function assertHasResourceViolation(policy: ResourceValidationPolicy, args: ResourceValidationArgs, match: RegExp): Promise<void> {
  const found = await resourceViolations(policy, args);
  if (!found.some((m) => match.test(m))) throw new Error(`expected a violation matching ${match}, got: ${found.join('; ') || 'none'}`);
}

export function policyResource(type: string, name: string, props: Record<string, unknown> = {}, propertyDependencies: Record<string, PolicyResource[]> = {}): PolicyResource {
  return { type, name, props, urn: `urn:pulumi:test::tickvault::${type}::${name}`, opts: options(false), dependencies: Object.values(propertyDependencies).flat(), propertyDependencies, isType: () => false, asType: () => undefined } as unknown as PolicyResource;
}

export async function stackViolations(policy: StackValidationPolicy, resources: PolicyResource[]): Promise<string[]> {
  const found: string[] = [];
  await policy.validateStack({ resources, getConfig: () => ({}), notApplicable: () => undefined as never } as any, (message) => found.push(message));
  return found;
}
