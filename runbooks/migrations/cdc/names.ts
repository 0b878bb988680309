import crypto from 'node:crypto';

/** Every slot and publication tickvault creates starts with this, so status can tell ours from foreign ones. */
export const CAPTURE_PREFIX = 'tickvault_';

/**
 * One capture per plan and scope: slot and publication share a name derived
 * from them and the target (slot names allow only [a-z0-9_], at most 63 characters).
 */
export function captureName(plan: string, scope: string, targetUrl: string): string {
  // The target's host, port and database (not its password): one source table may be copied to several targets.
  const u = new URL(targetUrl);
  const target = `${u.hostname}:${u.port}${u.pathname}${u.searchParams.get('host') ?? ''}`;
  return `${CAPTURE_PREFIX}${crypto.createHash('sha256').update(`${plan}\0${scope}\0${target}`).digest('hex').slice(0, 20)}`;
}
