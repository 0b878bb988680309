import crypto from 'node:crypto';
import type { Redis } from 'ioredis';

export interface RedisFingerprint {
  dbsize: number;
  sampled: number;
  /** Order-free sum of 64-bit digests of (key, type, value) over the sample. */
  hash: string;
}

const SAMPLE_TARGET = 2000;

/** The key's sha256 as a fraction of the hash space: a stable, uniform sample key. */
const keyFraction = (key: Buffer): number => crypto.createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;

async function valueDigest(redis: Redis, key: Buffer): Promise<string | null> {
  const type = await redis.type(key);
  let canonical: unknown;
  switch (type) {
    case 'string':
      canonical = (await redis.getBuffer(key))?.toString('base64');
      break;
    case 'hash':
      canonical = Object.entries(await redis.hgetall(key)).sort();
      break;
    case 'list':
      canonical = await redis.lrange(key, 0, -1);
      break;
    case 'set':
      canonical = (await redis.smembers(key)).sort();
      break;
    case 'zset':
      canonical = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      break;
    case 'stream':
      canonical = await redis.xrange(key, '-', '+');
      break;
    case 'none':
      return null; // expired or deleted while scanning
    default:
      canonical = (await redis.dumpBuffer(key))?.toString('base64');
  }
  return `${type}\0${JSON.stringify(canonical)}`;
}

/**
 * A deterministic sample (keys whose sha256 falls under DBSIZE-scaled
 * threshold: about 2,000 keys whatever the size) streamed with SCAN, so
 * equal datasets give equal fingerprints without holding the key space.
 */
export async function fingerprintRedis(redis: Redis): Promise<RedisFingerprint> {
  const dbsize = await redis.dbsize();
  const threshold = Math.min(1, SAMPLE_TARGET / Math.max(1, dbsize));
  let sum = 0n;
  let sampled = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const key of keys) {
      if (keyFraction(key) >= threshold) continue;
      const digest = await valueDigest(redis, key);
      if (digest === null) continue;
      const h = crypto.createHash('md5').update(key).update('\0').update(digest).digest();
      sum = (sum + h.readBigUInt64BE(0)) & ((1n << 96n) - 1n);
      sampled++;
    }
  } while (cursor !== '0');
  return { dbsize, sampled, hash: sum.toString(16) };
}
