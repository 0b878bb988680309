import fs from 'node:fs';
import path from 'node:path';
import { $ } from '../engine/shell';
import { pgBin } from '../stores/postgres/binaries';
import { timescaleSettings } from '../stores/postgres/timescale';
import { isOurProcess } from './process';
import type { ServiceUser } from './service-user';

/** A PostgreSQL cluster this machine runs: a data directory on a port. */
export interface ClusterSpec {
  dataDir: string;
  port: number;
  socketDir: string;
  logFile: string;
}

/** Settings we own live in tickvault.conf, included from postgresql.conf. */
export function writeClusterConf(dataDir: string, settings: Record<string, string | number>): void {
  const quote = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);
  const body = Object.entries(settings)
    .map(([key, value]) => `${key} = ${quote(value)}`)
    .join('\n');
  fs.writeFileSync(path.join(dataDir, 'tickvault.conf'), `# written by tickvault; edits are overwritten\n${body}\n`);
  const main = path.join(dataDir, 'postgresql.conf');
  const text = fs.readFileSync(main, 'utf8');
  if (!text.includes("include_if_exists = 'tickvault.conf'")) fs.appendFileSync(main, "\ninclude_if_exists = 'tickvault.conf'\n");
}

/** Every cluster we start (the stack's and restore targets) preloads TimescaleDB when it is installed. */
export function baseSettings(spec: ClusterSpec): Record<string, string | number> {
  return {
    port: spec.port,
    listen_addresses: '127.0.0.1',
    unix_socket_directories: spec.socketDir,
    max_connections: 100,
    shared_buffers: '256MB',
    max_wal_size: '2GB',
    wal_level: 'logical',
    // Change capture (migrations): one slot per running migration, plus pgBackRest's archive streaming.
    max_replication_slots: 64,
    // A forgotten slot may not fill the disk: past this it is invalidated and its migration fails loudly.
    max_slot_wal_keep_size: '8GB',
    max_wal_senders: 10,
    log_line_prefix: '%m [%p] %q%u@%d ',
    timezone: 'UTC',
    ...timescaleSettings(),
  };
}

/** initdb with a password-protected superuser; local socket access is trust (socket dir is 0700). */
export async function initCluster(spec: ClusterSpec, user: ServiceUser, superuser: string, password: string): Promise<void> {
  fs.mkdirSync(path.dirname(spec.dataDir), { recursive: true });
  const pwfile = path.join(path.dirname(spec.dataDir), `.pwfile-${process.pid}`);
  fs.writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (user.prefix.length) fs.chownSync(pwfile, user.uid, user.gid);
  try {
    await $`${user.prefix} ${pgBin('initdb')} -D ${spec.dataDir} -U ${superuser} --pwfile=${pwfile} --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --data-checksums`;
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

export function postmasterPid(dataDir: string): number | undefined {
  try {
    const first = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const pid = Number(first);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function clusterRunning(dataDir: string): boolean {
  return isOurProcess(postmasterPid(dataDir), 'postgres');
}

export async function startCluster(spec: ClusterSpec, user: ServiceUser): Promise<void> {
  fs.mkdirSync(spec.socketDir, { recursive: true, mode: 0o700 });
  if (user.prefix.length) fs.chownSync(spec.socketDir, user.uid, user.gid);
  const result = await $`${user.prefix} ${pgBin('pg_ctl')} -D ${spec.dataDir} -l ${spec.logFile} -w -t 120 start`.nothrow();
  if (result.exitCode !== 0) {
    const tail = fs.existsSync(spec.logFile) ? fs.readFileSync(spec.logFile, 'utf8').split('\n').slice(-8).join('\n') : '';
    throw new Error(`PostgreSQL did not start on port ${spec.port}: ${result.stderr.trim()}\n${tail}`);
  }
}

export async function stopCluster(dataDir: string, user: ServiceUser, mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<boolean> {
  if (!clusterRunning(dataDir)) return false;
  await $`${user.prefix} ${pgBin('pg_ctl')} -D ${dataDir} -m ${mode} -w -t 120 stop`;
  return true;
}

/** libpq URL with the password percent-encoded. */
export function clusterUrl(port: number, user: string, password: string, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** Unix socket paths are limited to ~107 bytes; fall back to /tmp when ours is too deep. */
export function socketDirFor(preferred: string, key: string): string {
  return preferred.length + '/.s.PGSQL.65535'.length < 100 ? preferred : path.join('/tmp', `tickvault-${key}`);
}
