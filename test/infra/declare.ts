import { declareProgram, stackConfig, type Declared } from '../../infra/mocks';
import { root } from '../helpers/runbook';

/** Run the program for a stack under Pulumi's mocks, with its committed config (+ secret placeholders). */
export async function declareStack(stack: 'dev' | 'prod', overrides: Record<string, string> = {}) {
  const { values, secretKeys } = stackConfig(stack, root);
  const config = { 'tickvault:dbPassword': 'test-db-password', 'tickvault:redisAuthToken': 'test-redis-auth-token-0123456789', ...values, ...overrides };
  return declareProgram(stack, config, [...secretKeys, 'tickvault:dbPassword', 'tickvault:redisAuthToken']);
}

export const ofType = (resources: Declared[], type: string): Declared[] => resources.filter((r) => r.type === type);
export const one = (resources: Declared[], type: string, name?: string): Declared => {
  const found = resources.filter((r) => r.type === type && (!name || r.name === name));
  if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
};
