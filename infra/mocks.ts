/**
 * Pulumi's own runtime mocks, for the offline plan (scripts/infra-plan.ts)
 * and the infra tests: no engine or cloud is reached. Mocks only echo
 * inputs, so newResource adds the computed outputs the program reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse as parseYaml } from 'yaml';

export interface Declared {
  type: string;
  name: string;
  parent: string | null;
  urn: string;
  custom: boolean;
  protect: boolean;
  retainOnDelete: boolean;
  aliases: number;
  additionalSecretOutputs: string[];
  dependsOn: number;
  inputs: Record<string, unknown>;
}

/** Lets a test change what the "cloud" reports for a resource (e.g. a container's exit code). */
export type StateOverride = (type: string, name: string, state: Record<string, unknown>) => Record<string, unknown>;

const ACCOUNT = '123456789012';

function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const service = type.split(':')[1]?.split('/')[0] ?? 'x';
  const base: Record<string, unknown> = { ...inputs, arn: `arn:aws:${service}:eu-west-1:${ACCOUNT}:${name}` };
  switch (type) {
    case 'aws:s3/bucket:Bucket':
      return { ...base, bucket: `${name}-0a1b2c`, arn: `arn:aws:s3:::${name}-0a1b2c` };
    case 'aws:ec2/instance:Instance':
      return { ...base, privateIp: '10.0.1.10', availabilityZone: 'eu-west-1a' };
    case 'aws:elasticache/replicationGroup:ReplicationGroup':
      return { ...base, primaryEndpointAddress: `${name}.cache.amazonaws.com` };
    case 'aws:sqs/queue:Queue':
      return { ...base, name: inputs.name ?? `${name}-q`, url: `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT}/${name}` };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { ...base, name: inputs.name ?? `/tickvault/${name}` };
    case 'aws:secretsmanager/secret:Secret':
      return { ...base, arn: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:${String(inputs.name ?? name)}-AbCdEf` };
    case 'random:index/randomPassword:RandomPassword':
      return { ...base, result: `generated-${name}`.replace(/[^A-Za-z0-9]/g, '').padEnd(Number(inputs.length ?? 16), 'x').slice(0, Number(inputs.length ?? 16)) };
    case 'docker:index/container:Container':
      return { ...base, ...(inputs.attach ? { exitCode: 0 } : {}) };
    case 'aws:ecs/taskDefinition:TaskDefinition':
      return { ...base, arn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/${String(inputs.family)}:1` };
    case 'aws:kms/key:Key':
      return { ...base, keyId: `${name}-key-id` };
    case 'aws:iam/role:Role':
      return { ...base, name: inputs.name ?? `${name}-role` };
    case 'docker:index/remoteImage:RemoteImage':
      return { ...base, imageId: `sha256:${'0'.repeat(64)}` };
    default:
      return base;
  }
}

/** Stack config as PULUMI_CONFIG holds it: `project:key` → string (objects as JSON). */
export function stackConfig(stack: string, root: string): { values: Record<string, string>; secretKeys: string[] } {
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  const doc = (parseYaml(fs.readFileSync(file, 'utf8')) ?? {}) as { config?: Record<string, unknown> };
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === 'object' && 'secure' in (value as object)) {
      values[key] = `plan-placeholder-${key.split(':')[1]}`;
      secretKeys.push(key);
    } else values[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { values, secretKeys };
}

let runs = 0;

// How the SDK marks a secret value on the wire.
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

/** Unwrap secret markers so tests and the plan see plain inputs (the plan runs on placeholders). */
function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === 'object') {
    if (SECRET_SIG in value) return unwrapSecrets((value as unknown as { value: unknown }).value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** An output's value; rejects when the program threw inside an apply (as `pulumi up` would fail). */
async function settle<T>(value: pulumi.Input<T>): Promise<T> {
  const output = pulumi.output(value) as unknown as { promise(): Promise<T> };
  return output.promise();
}

/**
 * Run the program under mocks with the given config and return every
 * resource it declares (components included, with parents) and its outputs.
 */
export async function declareProgram(stack: string, config: Record<string, string>, secretKeys: string[] = [], override?: StateOverride): Promise<{ resources: Declared[]; outputs: Record<string, unknown> }> {
  pulumi.runtime.setAllConfig(config, secretKeys);
  const inputsByKey = new Map<string, Record<string, unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        inputsByKey.set(`${args.type}::${args.name}`, unwrapSecrets(args.inputs) as Record<string, unknown>);
        const state = computed(args.type, args.name, args.inputs as Record<string, unknown>);
        return { id: `${args.name}-id`, state: override ? override(args.type, args.name, state) : state };
      },
      call: (args) => {
        if (args.token === 'aws:index/getCallerIdentity:getCallerIdentity') return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:root`, userId: 'AIDA' };
        if (args.token === 'aws:index/getRegion:getRegion') return { name: 'eu-west-1', region: 'eu-west-1', id: 'eu-west-1' };
        return args.inputs;
      },
    },
    'tickvault',
    stack,
    false,
  );
  const records: Omit<Declared, 'inputs'>[] = [];
  const chain = new Map<pulumi.Resource, { name: string; types: string[] }>();
  const recorder: pulumi.ResourceTransformation = (args) => {
    const parent = args.opts.parent ? chain.get(args.opts.parent) : undefined;
    const types = [...(parent?.types ?? []), args.type];
    chain.set(args.resource, { name: args.name, types });
    // URNs as the engine forms them: the parent type chain, the type, the name.
    const urn = `urn:pulumi:${stack}::tickvault::${types.join('$')}::${args.name}`;
    records.push({
      type: args.type,
      name: args.name,
      parent: parent?.name ?? null,
      urn,
      custom: args.resource instanceof pulumi.CustomResource,
      protect: Boolean(args.opts.protect),
      retainOnDelete: Boolean(args.opts.retainOnDelete),
      aliases: (args.opts.aliases ?? []).length,
      additionalSecretOutputs: [...((args.opts as pulumi.CustomResourceOptions).additionalSecretOutputs ?? [])],
      dependsOn: [args.opts.dependsOn ?? []].flat().length,
    });
    return undefined;
  };
  // As the language host does: a root Stack resource, then the program inside it.
  let program: Record<string, pulumi.Input<unknown>> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(recorder);
    // A fresh module instance per run, so one process can declare several configurations.
    program = (await import(/* @vite-ignore */ `./index.ts?run=${++runs}`)) as Record<string, pulumi.Input<unknown>>;
    return { ...program };
  });
  const outputs: Record<string, unknown> = {};
  // Settle every output before judging: one failed apply must not leave the others unobserved.
  const settled = await Promise.allSettled(Object.entries(program).map(async ([key, value]) => [key, unwrapSecrets(await settle(value))] as const));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  for (const s of settled) if (s.status === 'fulfilled' && s.value[1] !== undefined) outputs[s.value[0]] = s.value[1];
  await new Promise((resolve) => setTimeout(resolve, 50));
  const resources = records.map((r) => ({ ...r, inputs: inputsByKey.get(`${r.type}::${r.name}`) ?? {} }));
  return { resources, outputs };
}
