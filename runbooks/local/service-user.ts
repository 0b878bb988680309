import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { $ } from '../engine/shell';
import { ConfigError } from '../engine/errors';

/**
 * PostgreSQL refuses to run as root, so when tickvault runs as root the
 * local servers run as an unprivileged account: `postgres` when the server
 * package created it, else a `tickvault` system user created here.
 */
export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
  /** Prefix for commands that must run as this user (empty when we are it). */
  prefix: string[];
}

const passwdEntry = (name: string): { uid: number; gid: number } | undefined => {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
};

export async function serviceUser(): Promise<ServiceUser> {
  if (process.getuid?.() !== 0) {
    const info = os.userInfo();
    return { name: info.username, uid: info.uid, gid: info.gid, prefix: [] };
  }
  let name = 'postgres';
  let entry = passwdEntry(name);
  if (!entry) {
    name = 'tickvault';
    entry = passwdEntry(name);
    if (!entry) {
      await $`useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${name}`;
      entry = passwdEntry(name);
    }
  }
  if (!entry) throw new ConfigError('could not find or create an unprivileged user to run PostgreSQL');
  return { name, ...entry, prefix: ['runuser', '-u', name, '--'] };
}

/**
 * Hand a directory tree to the service user (no-op when not root). A running
 * cluster removes files while the walk goes on (archive_status/*.ready, WAL
 * recycled): an entry that is gone needs no owner, so ENOENT is skipped.
 */
export function chownTree(dir: string, user: ServiceUser): void {
  if (user.prefix.length === 0) return;
  const gone = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';
  const walk = (at: string): void => {
    let entries: fs.Dirent[];
    try {
      fs.lchownSync(at, user.uid, user.gid);
      entries = fs.readdirSync(at, { withFileTypes: true });
    } catch (error) {
      if (gone(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        try {
          fs.lchownSync(full, user.uid, user.gid);
        } catch (error) {
          if (!gone(error)) throw error;
        }
      }
    }
  };
  walk(dir);
}

/** Fail early and clearly when the service user cannot reach our state dir. */
export async function assertReachable(dir: string, user: ServiceUser): Promise<void> {
  if (user.prefix.length === 0) return;
  const probe = await $`${user.prefix} test -w ${dir}`.nothrow();
  if (probe.exitCode !== 0) {
    throw new ConfigError(`the service user "${user.name}" cannot write ${dir} (a parent directory is not traversable)`, {
      hint: 'set TICKVAULT_HOME to a directory that user can reach, e.g. TICKVAULT_HOME=/var/lib/tickvault',
    });
  }
}
