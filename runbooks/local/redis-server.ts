import fs from 'node:fs';
import path from 'node:path';
import { $ } from '../engine/shell';
import { isOurProcess, waitFor } from './process';
import type { ServiceUser } from './service-user';

export interface RedisSpec {
  dir: string;
  port: number;
  password: string;
}

export const redisPidFile = (dir: string): string => path.join(dir, 'redis.pid');

export function redisPid(dir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(redisPidFile(dir), 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export const redisRunning = (dir: string): boolean => isOurProcess(redisPid(dir), 'redis-server');

/** redis.conf with RDB persistence on and AOF off (the backup runbook relies on RDB). */
export function writeRedisConf(spec: RedisSpec, extra: Record<string, string> = {}): string {
  const file = path.join(spec.dir, 'redis.conf');
  const settings: Record<string, string> = {
    bind: '127.0.0.1',
    port: String(spec.port),
    requirepass: spec.password,
    dir: spec.dir,
    dbfilename: 'dump.rdb',
    save: '60 1000 300 10',
    appendonly: 'no',
    daemonize: 'yes',
    pidfile: redisPidFile(spec.dir),
    logfile: path.join(spec.dir, 'redis.log'),
    'protected-mode': 'yes',
    ...extra,
  };
  const text = Object.entries(settings)
    .map(([k, v]) => `${k} ${/\s/.test(v) && k !== 'save' ? JSON.stringify(v) : v}`)
    .join('\n');
  fs.writeFileSync(file, `# written by tickvault\n${text}\n`, { mode: 0o600 });
  return file;
}

export async function startRedis(spec: RedisSpec, user: ServiceUser): Promise<number> {
  const conf = path.join(spec.dir, 'redis.conf');
  if (user.prefix.length) {
    fs.chownSync(spec.dir, user.uid, user.gid);
    fs.chownSync(conf, user.uid, user.gid);
  }
  fs.rmSync(redisPidFile(spec.dir), { force: true });
  await $`${user.prefix} redis-server ${conf}`;
  const started = await waitFor(() => redisRunning(spec.dir), 10_000);
  if (!started) {
    const log = path.join(spec.dir, 'redis.log');
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-6).join('\n') : '';
    throw new Error(`redis-server did not start on port ${spec.port}\n${tail}`);
  }
  return redisPid(spec.dir)!;
}

export const redisUrlFor = (port: number, password: string): string => `redis://default:${encodeURIComponent(password)}@127.0.0.1:${port}`;
