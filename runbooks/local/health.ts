import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { messageOf } from '../engine/errors';
import { creatableTimescaleVersion } from '../stores/postgres/timescale';
import { localS3Client } from './s3-endpoint';

export interface Health {
  healthy: boolean;
  detail: string;
  /** PostgreSQL only: the TimescaleDB version this server can create. */
  timescaledb?: string;
}

export async function postgresHealth(url: string): Promise<Health> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    const timescale = await creatableTimescaleVersion(client);
    return { healthy: true, detail: `PostgreSQL ${rows[0]?.v}, ${timescale ? `TimescaleDB ${timescale} (preloaded)` : 'no TimescaleDB'}`, ...(timescale ? { timescaledb: timescale } : {}) };
  } catch (error) {
    return { healthy: false, detail: messageOf(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function redisHealth(url: string): Promise<Health> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pong = await redis.ping();
    const info = await redis.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1];
    return { healthy: pong === 'PONG', detail: `Redis ${version}` };
  } catch (error) {
    return { healthy: false, detail: messageOf(error) };
  } finally {
    redis.disconnect();
  }
}

export async function s3Health(endpoint: string, bucket: string): Promise<Health> {
  const client = localS3Client(endpoint);
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return { healthy: true, detail: `bucket ${bucket} reachable` };
  } catch (error) {
    return { healthy: false, detail: messageOf(error) };
  } finally {
    client.destroy();
  }
}
