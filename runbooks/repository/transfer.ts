import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VerificationError } from '../engine/errors';
import { runPool } from '../engine/pool';
import { HashingStream } from './hashing';
import { backupPrefix, type Manifest, type ManifestFile } from './manifest';
import type { Repository } from './repository';

/** Upload every file under dir (streamed, hashed on the way) below prefix. */
export async function uploadDir(repo: Repository, prefix: string, dir: string, onFile?: (file: ManifestFile) => void): Promise<ManifestFile[]> {
  const entries = (await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const files: ManifestFile[] = [];
  // Two uploads at a time: enough to overlap I/O without starving pg_dump/pg_restore of CPU.
  const queue = entries.map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  // On the shared pool: the first failure stops new uploads.
  await runPool(queue, { workers: 2, open: async () => undefined }, async (rel) => {
    const local = path.join(dir, rel);
    const key = `${prefix}/${rel}`;
    const stored = repo.putFile ? await repo.putFile(key, local) : await repo.put(key, fs.createReadStream(local, { highWaterMark: 1 << 20 }));
    const file = { path: rel, size: stored.size, sha256: stored.sha256 };
    files.push(file);
    onFile?.(file);
  });
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

export interface FileProblem {
  path: string;
  problem: string;
}

/** Stream one stored file through sha256, optionally writing it to dest. */
async function checkFile(repo: Repository, key: string, file: ManifestFile, dest?: string, signal?: AbortSignal): Promise<FileProblem | undefined> {
  let source;
  try {
    source = await repo.get(key);
  } catch {
    return { path: file.path, problem: 'missing' };
  }
  const hasher = new HashingStream();
  if (dest) {
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    await pipeline(source, hasher, fs.createWriteStream(dest), { signal });
  } else {
    await pipeline(source, hasher, async function* (chunks) {
      for await (const _ of chunks) {
        /* hash only */
      }
    });
  }
  const sha = hasher.digest();
  if (hasher.size !== file.size) return { path: file.path, problem: `size ${hasher.size} != ${file.size}` };
  if (sha !== file.sha256) return { path: file.path, problem: `sha256 ${sha.slice(0, 12)}… != ${file.sha256.slice(0, 12)}…` };
  return undefined;
}

/** Re-read every artifact of a backup and compare size and sha256 with the manifest. */
export async function verifyArtifacts(repo: Repository, manifest: Manifest, onProgress?: (done: number, total: number) => void): Promise<FileProblem[]> {
  const prefix = backupPrefix(manifest.env, manifest.store, manifest.id);
  const problems: FileProblem[] = [];
  let done = 0;
  for (const file of manifest.files) {
    const problem = await checkFile(repo, `${prefix}/${file.path}`, file);
    if (problem) problems.push(problem);
    onProgress?.(++done, manifest.files.length);
  }
  return problems;
}

/**
 * Download a backup into dest, checking every sha256. Any mismatch throws
 * VerificationError (exit 3) before a restore touches its target.
 */
export async function downloadVerified(repo: Repository, manifest: Manifest, dest: string, onProgress?: (done: number, total: number) => void): Promise<void> {
  const prefix = backupPrefix(manifest.env, manifest.store, manifest.id);
  const queue = [...manifest.files];
  const problems: FileProblem[] = [];
  let done = 0;
  // The shared pool: a failed download stops the others (their streams are destroyed through the signal).
  await runPool(queue, { workers: 2, open: async () => undefined }, async (file, _w, signal) => {
    const problem = await checkFile(repo, `${prefix}/${file.path}`, file, path.join(dest, file.path), signal);
    if (problem) problems.push(problem);
    onProgress?.(++done, manifest.files.length);
  });
  if (problems.length) {
    throw new VerificationError(`backup ${manifest.id} failed its checksum check; the target was not touched: ${problems.map((p) => `${p.path} (${p.problem})`).join('; ')}`, { problems });
  }
}

export const stagingDir = (root: string, id: string): string => path.join(root, `${id}-${crypto.randomBytes(3).toString('hex')}`);
