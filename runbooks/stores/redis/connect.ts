import { Redis } from 'ioredis';
import { ConfigError } from '../../engine/errors';

const redact = (url: string): string => url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1****@');

/** Connect once, no retries: a wrong URL or password is a config error (exit 2). */
export async function connectRedis(url: string, label = 'REDIS_URL'): Promise<Redis> {
  // A URL without a password takes it from REDISCLI_AUTH (as redis-cli does), so none needs to be on a command line.
  const withAuth = new URL(url);
  if (!withAuth.password && process.env.REDISCLI_AUTH) withAuth.password = encodeURIComponent(process.env.REDISCLI_AUTH);
  const redis = new Redis(withAuth.toString(), { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const message = (error as Error).message;
    if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) throw new ConfigError(`${label}: authentication failed for ${redact(url)}`, { hint: 'check the password (in the URL, or REDISCLI_AUTH)' });
    throw new ConfigError(`${label}: cannot reach ${redact(url)} (${message})`);
  }
  return redis;
}

export async function infoField(redis: Redis, section: string, field: string): Promise<string | undefined> {
  const text = await redis.info(section);
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}
