import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { $ } from 'zx';
import { freePort, waitFor } from '../../runbooks/local/process';

/** Whether a redis-server at url answers PONG now, probed with a fresh client (one refused connection ends a client for good). */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { retryStrategy: () => null, maxRetriesPerRequest: 1, lazyConnect: true });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Waits until a (possibly daemonized, not yet listening) redis-server answers; throws on timeout. */
export async function waitForRedis(url: string, timeoutMs = 10_000): Promise<void> {
  if (!(await waitFor(() => redisAnswers(url), timeoutMs))) throw new Error(`redis-server at ${url.replace(/:[^:@/]*@/, ':***@')} did not answer within ${timeoutMs} ms`);
}

/** A private redis-server started from a config file (in-place restores need one), with some data. */
export async function startPrivateRedis(keys = 500): Promise<{ dir: string; url: string; password: string; port: number; stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-redis-'));
  const password = crypto.randomBytes(9).toString('hex');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'redis.conf'), `port ${port}\nbind 127.0.0.1\nrequirepass ${password}\ndir ${dir}\ndaemonize yes\npidfile ${dir}/redis.pid\nlogfile ${dir}/redis.log\nappendonly no\nsave ""\n`);
  await $`redis-server ${path.join(dir, 'redis.conf')}`;
  const url = `redis://default:${password}@127.0.0.1:${port}`;
  await waitForRedis(url);
  const redis = new Redis(url, { retryStrategy: () => null, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const pipe = redis.pipeline();
  for (let i = 0; i < keys; i++) pipe.set(`bar:1m:EURUSD:${i}`, String(i));
  await pipe.exec();
  redis.disconnect();
  return {
    dir,
    url,
    password,
    port,
    stop: async () => {
      await $`redis-cli -u ${url} --no-auth-warning SHUTDOWN NOSAVE`.nothrow();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
