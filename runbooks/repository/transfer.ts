import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { VerificationError } from '../engine/errors';
import { HashingStream } from './hashing';
import { backupPrefix, isBookkeeping, type Manifest, type ManifestFile } from './manifest';
import type { Repository } from './repository';

export { stagingDir, removeStaging } from './staging';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/** Upload every file under dir (streamed, hashed on the way) below prefix. */
export async function uploadDir(repo: Repository, prefix: string, dir: string, onFile?: (file: ManifestFile) => void): Promise<ManifestFile[]> {
  const entries = (await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const files: ManifestFile[] = [];
  // Two uploads at a time: enough to overlap I/O without starving pg_dump/pg_restore of CPU.
  const queue = entries.map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  const worker = async () => {
    for (let rel = queue.shift(); rel !== undefined; rel = queue.shift()) {
      const local = path.join(dir, rel);
      const key = `${prefix}/${rel}`;
      const stored = repo.putFile ? await repo.putFile(key, local) : await repo.put(key, fs.createReadStream(local, { highWaterMark: 1 << 20 }));
      const file = { path: rel, size: stored.size, sha256: stored.sha256 };
      files.push(file);
      onFile?.(file);
    }
  };
  await Promise.all([worker(), worker()]);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

export interface FileProblem {
  path: string;
  problem: string;
}

/**
 * A backup folder must hold exactly its manifest's files (plus the manifest
 * and verify records): an extra file could be what a tool picks up instead,
 * a missing one means the backup is incomplete.
 */
export async function folderProblems(repo: Repository, manifest: Manifest): Promise<FileProblem[]> {
  const prefix = backupPrefix(manifest.env, manifest.store, manifest.id);
  const present = new Set((await repo.list(`${prefix}/`)).map((k) => k.slice(prefix.length + 1)));
  const expected = new Set(manifest.files.map((f) => f.path));
  const problems: FileProblem[] = [];
  for (const file of manifest.files) if (!present.has(file.path)) problems.push({ path: file.path, problem: 'missing' });
  for (const rel of present) if (!expected.has(rel) && !isBookkeeping(rel)) problems.push({ path: rel, problem: 'not in the manifest (extra file)' });
  return problems;
}

/** Stream one stored file through sha256; with dest, into a temp file renamed to dest only when it matches. */
async function checkFile(repo: Repository, key: string, file: ManifestFile, dest?: string): Promise<FileProblem | undefined> {
  let source;
  try {
    source = await repo.get(key);
  } catch (error) {
    return { path: file.path, problem: error instanceof VerificationError ? error.message : 'missing' };
  }
  const hasher = new HashingStream();
  const tmp = dest ? `${dest}.${crypto.randomBytes(4).toString('hex')}.part` : undefined;
  try {
    if (dest && tmp) {
      await fs.promises.mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
      const handle = await fs.promises.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      await pipeline(source, hasher, handle.createWriteStream());
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
    if (dest && tmp) await fs.promises.rename(tmp, dest);
    return undefined;
  } finally {
    if (tmp) await fs.promises.rm(tmp, { force: true });
  }
}

/** Re-read every artifact of a backup and compare size and sha256 with the manifest; extra or missing files are problems too. */
export async function verifyArtifacts(repo: Repository, manifest: Manifest, onProgress?: (done: number, total: number) => void): Promise<FileProblem[]> {
  const prefix = backupPrefix(manifest.env, manifest.store, manifest.id);
  const problems: FileProblem[] = await folderProblems(repo, manifest);
  const missing = new Set(problems.map((p) => p.path));
  let done = 0;
  for (const file of manifest.files) {
    const problem = missing.has(file.path) ? undefined : await checkFile(repo, `${prefix}/${file.path}`, file);
    if (problem) problems.push(problem);
    onProgress?.(++done, manifest.files.length);
  }
  return problems;
}

/** Where a manifest entry lands inside dest, refusing anything that would leave it. */
function destinationOf(dest: string, file: ManifestFile): string {
  const root = path.resolve(dest);
  const full = path.resolve(root, file.path);
  if (!full.startsWith(root + path.sep)) throw new VerificationError(`manifest entry "${file.path}" leaves the staging folder; refused`);
  return full;
}

/**
 * Download a backup into dest, checking every sha256. Any mismatch, extra
 * or missing file throws VerificationError (exit 3) before a restore
 * touches its target; files land under temp names and are renamed only
 * once their sha256 matches.
 */
export async function downloadVerified(repo: Repository, manifest: Manifest, dest: string, onProgress?: (done: number, total: number) => void): Promise<void> {
  const prefix = backupPrefix(manifest.env, manifest.store, manifest.id);
  const targets = manifest.files.map((file) => ({ file, to: destinationOf(dest, file) }));
  const problems: FileProblem[] = await folderProblems(repo, manifest);
  if (problems.length === 0) {
    const queue = [...targets];
    let done = 0;
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const problem = await checkFile(repo, `${prefix}/${next.file.path}`, next.file, next.to);
        if (problem) problems.push(problem);
        onProgress?.(++done, manifest.files.length);
      }
    };
    await Promise.all([worker(), worker()]);
  }
  if (problems.length) {
    throw new VerificationError(`backup ${manifest.id} failed its checksum check; the target was not touched: ${problems.map((p) => `${p.path} (${p.problem})`).join('; ')}`, { problems });
  }
}
