import crypto from 'node:crypto';
import { inject } from 'vitest';

/** Env for child runbooks: the shared test stack, and a private backup namespace. */
export function stackEnv(extra: Record<string, string> = {}): Record<string, string> {
  const stack = inject('stack');
  return { TICKVAULT_HOME: stack.home, TICKVAULT_ENV: `t${crypto.randomBytes(4).toString('hex')}`, ...extra };
}
