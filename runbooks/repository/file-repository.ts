import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashingStream, sha256File } from './hashing';
import { NotFoundError, type Repository, type StoredObject } from './repository';

/** A directory as a repository; writes land under a temp name and are renamed into place. */
export class FileRepository implements Repository {
  readonly url: string;
  constructor(private readonly root: string) {
    this.url = `file://${root}`;
  }

  private resolve(key: string): string {
    const full = path.resolve(this.root, key);
    if (!full.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`key escapes the repository: ${key}`);
    return full;
  }

  async put(key: string, body: Readable): Promise<StoredObject> {
    const target = this.resolve(key);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${crypto.randomBytes(4).toString('hex')}.part`;
    const hasher = new HashingStream();
    try {
      await pipeline(body, hasher, fs.createWriteStream(tmp, { mode: 0o640 }));
      const handle = await fs.promises.open(tmp, 'r');
      await handle.sync();
      await handle.close();
      await fs.promises.rename(tmp, target);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    return { size: hasher.size, sha256: hasher.digest() };
  }

  async putFile(key: string, file: string): Promise<StoredObject> {
    const target = this.resolve(key);
    const stored = await sha256File(file);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    try {
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
    return this.resolve(key);
  }

  async get(key: string): Promise<Readable> {
    const file = this.resolve(key);
    if (!fs.existsSync(file)) throw new NotFoundError(`not in the repository: ${key}`);
    return fs.createReadStream(file, { highWaterMark: 1 << 20 });
  }

  async exists(key: string): Promise<boolean> {
    return fs.existsSync(this.resolve(key));
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.resolve(prefix || '.');
    if (!fs.existsSync(dir)) return [];
    const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && !e.name.endsWith('.part') && !e.parentPath.includes(`${path.sep}.staging`))
      .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)))
      .sort();
  }

  async remove(keys: string[]): Promise<void> {
    for (const key of keys) await fs.promises.rm(this.resolve(key), { force: true });
    // Drop directories left empty, deepest first, up to the repository root.
    const root = path.resolve(this.root);
    const dirs = [...new Set(keys.map((k) => path.dirname(this.resolve(k))))].sort((a, b) => b.length - a.length);
    for (let dir of dirs) {
      while (dir.startsWith(root + path.sep)) {
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
