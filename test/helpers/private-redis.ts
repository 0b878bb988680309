import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { $ } from 'zx';
import { freePort, waitFor } from '../../runbooks/local/process';

/** A private redis-server started from a config file (in-place restores need one), with some data. */
export async function startPrivateRedis(keys = 500): Promise<{ dir: string; url: string; password: string; port: number; stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-redis-'));
  const password = crypto.randomBytes(9).toString('hex');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'redis.conf'), `port ${port}\nbind 127.0.0.1\nrequirepass ${password}\ndir ${dir}\ndaemonize yes\npidfile ${dir}/redis.pid\nlogfile ${dir}/redis.log\nappendonly no\nsave ""\n`);
  await $`redis-server ${path.join(dir, 'redis.conf')}`;
  const url = `redis://default:${password}@127.0.0.1:${port}`;
  const redis = new Redis(url, { retryStrategy: () => null, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await waitFor(async () => (await redis.ping().catch(() => '')) === 'PONG', 10_000);
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
