import { Redis } from 'ioredis';
import { ConfigError } from '../../engine/errors';
import { maskUrl } from '../../engine/mask';

/** A URL without a password gets REDISCLI_AUTH's (as redis-cli does), so none needs to be on a command line. */
export function withEnvAuth(url: string): string {
  const withAuth = new URL(url);
  if (!withAuth.password && process.env.REDISCLI_AUTH) withAuth.password = encodeURIComponent(process.env.REDISCLI_AUTH);
  return withAuth.toString();
}

/** Connect once, no retries: a wrong URL or password is a config error (exit 2). */
export async function connectRedis(url: string, label = 'REDIS_URL'): Promise<Redis> {
  const redis = new Redis(withEnvAuth(url), { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const message = (error as Error).message;
    if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) throw new ConfigError(`${label}: authentication failed for ${maskUrl(url)}`, { hint: 'check the password (in the URL, or REDISCLI_AUTH)' });
    throw new ConfigError(`${label}: cannot reach ${maskUrl(url)} (${message})`);
  }
  return redis;
}

export async function infoField(redis: Redis, section: string, field: string): Promise<string | undefined> {
  const text = await redis.info(section);
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}
