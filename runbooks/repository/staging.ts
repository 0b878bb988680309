import { ownerGone, thisProcess, type Owner } from '../engine/owner';
import { privateDir } from '../engine/paths';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The owner record sits beside the folder (not in it: pg_dump wants an empty folder). */
const ownerFile = (dir: string): string => `${dir}.owner.json`;

interface StagingOwner extends Owner {
  at: string;
}

/**
 * Sweep staging folders left by killed runs: a folder whose owner process on
 * this host is gone. Folders of other hosts (shared disks) and of live runs
 * stay; so do folders without an owner record younger than a day.
 */
export function sweepStaging(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(root)) {
    const dir = path.join(root, name);
    if (name.endsWith('.owner.json')) {
      // An owner record whose folder the run already removed.
      if (!fs.existsSync(dir.slice(0, -'.owner.json'.length))) fs.rmSync(dir, { force: true });
      continue;
    }
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (!stat.isDirectory()) continue;
    let owner: StagingOwner | undefined;
    try {
      owner = JSON.parse(fs.readFileSync(ownerFile(dir), 'utf8')) as StagingOwner;
    } catch {
      owner = undefined;
    }
    const dead = owner ? ownerGone(owner) : Date.now() - stat.mtimeMs > 86_400_000;
    if (dead) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(ownerFile(dir), { force: true });
      removed.push(dir);
    }
  }
  return removed;
}

/**
 * A new private staging folder (0700) under root, named after the backup,
 * with an owner record so the next run can clean it up if this one is
 * killed. Leftovers of killed runs under the same root are swept first.
 */
export function stagingDir(root: string, id: string): string {
  privateDir(root);
  fs.chmodSync(root, 0o700);
  sweepStaging(root);
  const dir = path.join(root, `${id}-${crypto.randomBytes(3).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(ownerFile(dir), JSON.stringify({ ...thisProcess(), at: new Date().toISOString() } satisfies StagingOwner), { mode: 0o600, flag: 'wx' });
  return dir;
}

/** Remove a staging folder and its owner record (the run's cleanup). */
export function removeStaging(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(ownerFile(dir), { force: true });
}
