import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { localDir } from '../engine/paths';
import { choosePort } from '../local/process';
import { redisUrlFor, startRedis, writeRedisConf } from '../local/redis-server';
import { chownTree, serviceUser } from '../local/service-user';
import { registerExtraRedis } from '../local/state';
import type { RedisProvisioner } from '../stores/redis/rdb-restore';

/**
 * Redis restores on this machine: a new server under the local stack's
 * restores/, on a free port as the service user, registered so `local.ts
 * down` stops it. Injected into stores/ by recovery/.
 */
export function localRedisProvisioner(): RedisProvisioner {
  return {
    async startFromRdb(rdb, password) {
      const user = await serviceUser();
      const name = `redis-${crypto.randomBytes(3).toString('hex')}`;
      const dir = path.join(localDir(), 'restores', name);
      const port = await choosePort(undefined);
      // The parent stays traversable for the service user; the server's own data folder is 0700.
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      fs.mkdirSync(dir, { mode: 0o700 });
      fs.copyFileSync(rdb, path.join(dir, 'dump.rdb'));
      fs.chmodSync(path.join(dir, 'dump.rdb'), 0o600);
      writeRedisConf({ dir, port, password });
      chownTree(dir, user);
      await startRedis({ dir, port, password }, user);
      await registerExtraRedis({ name, dir, port });
      return { port, url: redisUrlFor(port, password) };
    },
    async asOwnerOf(dir) {
      const user = await serviceUser();
      return user.prefix.length && fs.statSync(dir).uid !== 0 ? user.prefix : [];
    },
  };
}
