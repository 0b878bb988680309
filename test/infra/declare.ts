import { declareProgram, stackConfig, type Declared, type StateOverride } from '../../infra/mocks';
import { root } from '../helpers/runbook';

/** Run the program for a stack under Pulumi's mocks, with its committed config (+ overrides). */
export async function declareStack(stack: 'dev' | 'prod', overrides: Record<string, string> = {}, override?: StateOverride) {
  const { values, secretKeys } = stackConfig(stack, root);
  return declareProgram(stack, { ...values, ...overrides }, secretKeys, override);
}

export const ofType = (resources: Declared[], type: string): Declared[] => resources.filter((r) => r.type === type);
export const one = (resources: Declared[], type: string, name?: string): Declared => {
  const found = resources.filter((r) => r.type === type && (!name || r.name === name));
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
};
/** A container definition list as ECS receives it. */
export const containers = (taskDefinition: Declared): any[] => JSON.parse(taskDefinition.inputs.containerDefinitions as string);
export const statements = (r: Declared, key = 'policy'): any[] => [JSON.parse(r.inputs[key] as string).Statement].flat();
