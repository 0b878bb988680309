import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chownTree } from '../../runbooks/local/service-user';

// A running cluster deletes files (archive_status/*.ready) while `local up`
// hands its tree to the service user: a vanished entry must not fail the walk.
const user = { name: 'nobody', uid: 65534, gid: 65534, prefix: ['runuser', '-u', 'nobody', '--'] };

afterEach(() => vi.restoreAllMocks());

function tree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-chown-'));
  fs.mkdirSync(path.join(dir, 'pg_wal', 'archive_status'), { recursive: true });
  for (const f of ['a.ready', 'b.ready', 'c.ready']) fs.writeFileSync(path.join(dir, 'pg_wal', 'archive_status', f), '');
  fs.writeFileSync(path.join(dir, 'postgresql.conf'), '');
  return dir;
}

describe.runIf(process.getuid?.() === 0)('chownTree on a tree that changes underneath', () => {
  it('skips a file removed mid-walk and still owns every other entry', () => {
    const dir = tree();
    const vanishing = path.join(dir, 'pg_wal', 'archive_status', 'b.ready');
    const real = fs.lchownSync;
    vi.spyOn(fs, 'lchownSync').mockImplementation((p, uid, gid) => {
      if (p === vanishing) {
        fs.rmSync(vanishing);
        throw Object.assign(new Error(`ENOENT: no such file or directory, lchown '${vanishing}'`), { code: 'ENOENT' });
      }
      real(p, uid, gid);
    });
    expect(() => chownTree(dir, user)).not.toThrow();
    for (const p of [dir, 'pg_wal', 'pg_wal/archive_status', 'pg_wal/archive_status/a.ready', 'pg_wal/archive_status/c.ready', 'postgresql.conf']) {
      expect(fs.lstatSync(path.resolve(dir, p)).uid, p).toBe(65534);
    }
  });

  it('still fails on any other error', () => {
    const dir = tree();
    vi.spyOn(fs, 'lchownSync').mockImplementation(() => {
      throw Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' });
    });
    expect(() => chownTree(dir, user)).toThrow(/EPERM/);
  });
});
