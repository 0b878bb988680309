import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VerificationError } from '../engine/errors';
import { HashingStream, sha256File } from './hashing';
import { NotFoundError, type Repository, type StoredObject } from './types';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY } = fs.constants;

/**
 * A directory as a repository. Writes land under a temp name (created
 * exclusively, mode 0600, folders 0700) and are renamed into place; reads
 * refuse symlinks anywhere below the root, so a planted link cannot make a
 * restore read (or a prune delete) outside the repository.
 */
export class FileRepository implements Repository {
  readonly url: string;
  private readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
    this.url = `file://${this.root}`;
  }

  private resolve(key: string): string {
    const full = path.resolve(this.root, key);
    if (!full.startsWith(this.root + path.sep)) throw new VerificationError(`key escapes the repository: ${key}`);
    return full;
  }

  /** Refuse a key when any component below the root is a symlink. */
  private resolveNoLinks(key: string): string {
    const full = this.resolve(key);
    let dir = this.root;
    for (const part of path.relative(this.root, full).split(path.sep)) {
      dir = path.join(dir, part);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(dir);
      } catch {
        return full; // the rest does not exist yet
      }
      if (stat.isSymbolicLink()) throw new VerificationError(`${key}: a symlink in the repository (${path.relative(this.root, dir)}); refused`);
    }
    return full;
  }

  private mkdirs(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    const target = this.resolveNoLinks(key);
    this.mkdirs(path.dirname(target));
    const tmp = `${target}.${crypto.randomBytes(4).toString('hex')}.part`;
    const hasher = new HashingStream();
    try {
      const handle = await fs.promises.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      await pipeline(body, hasher, handle.createWriteStream());
      const check = await fs.promises.open(tmp, O_RDONLY | O_NOFOLLOW);
      await check.sync();
      await check.close();
      await fs.promises.rename(tmp, target);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    return { size: hasher.size, sha256: hasher.digest() };
  }

  async putFile(key: string, file: string): Promise<StoredObject> {
    const target = this.resolveNoLinks(key);
    const stored = await sha256File(file);
    this.mkdirs(path.dirname(target));
    try {
      await fs.promises.chmod(file, 0o600);
      await fs.promises.rename(file, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      return this.put(key, fs.createReadStream(file));
    }
    return stored;
  }

  stagingRoot(): string {
    return path.join(this.root, '.staging');
  }

  localPath(key: string): string {
    return this.resolveNoLinks(key);
  }

  async get(key: string): Promise<Readable> {
    const file = this.resolveNoLinks(key);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(file, O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`not in the repository: ${key}`);
      if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new VerificationError(`${key}: a symlink in the repository; refused`);
      throw error;
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new VerificationError(`${key}: not a regular file; refused`);
    }
    return handle.createReadStream({ highWaterMark: 1 << 20 });
  }

  async exists(key: string): Promise<boolean> {
    try {
      fs.lstatSync(this.resolve(key));
      return true;
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.resolve(prefix || '.');
    if (!fs.existsSync(dir) || fs.lstatSync(dir).isSymbolicLink()) return [];
    const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true });
    const staging = this.stagingRoot() + path.sep;
    return entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.endsWith('.part') && !path.join(e.parentPath, e.name).startsWith(staging))
      .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)))
      .sort();
  }

  async remove(keys: string[]): Promise<void> {
    // rm on a symlink removes the link itself, never what it points to.
    for (const key of keys) await fs.promises.rm(this.resolve(key), { force: true });
    // Drop directories left empty, deepest first, up to the repository root.
    const dirs = [...new Set(keys.map((k) => path.dirname(this.resolve(k))))].sort((a, b) => b.length - a.length);
    for (let dir of dirs) {
      while (dir.startsWith(this.root + path.sep)) {
        try {
          await fs.promises.rmdir(dir);
        } catch {
          break; // not empty (or gone)
        }
        dir = path.dirname(dir);
      }
    }
  }
}
