import crypto from 'node:crypto';
import { z } from 'zod';
import { messageOf, VerificationError } from '../engine/errors';
import { BACKUP_ID, backupIdFlag, ENV_NAME, isBackupId, isSafeRelativePath } from './ids';
import { getText, NotFoundError, putText, type Repository } from './repository';
import { checkRecord, repositoryKey, signRecord } from './signing';

export const STORES = ['postgres', 'redis', 'qdrant'] as const;
export type Store = (typeof STORES)[number];

const fileSchema = z.object({
  path: z.string().refine(isSafeRelativePath, 'a file entry must be a relative path inside the backup (no absolute path, no "..")'),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
const columnSchema = z.object({ name: z.string(), type: z.string() });
// algo `named` is verify/row-hash.ts; `record` and `md5` are older backups' row hashes.
const tableSchema = z.object({ table: z.string(), schema: z.string().optional(), name: z.string().optional(), rows: z.number(), hash: z.string(), algo: z.enum(['mixed', 'named', 'record', 'md5']).default('md5'), columns: z.array(columnSchema).optional() });
/** Where a backup came from: restore --latest and retention never mix sources. */
const sourceSchema = z.object({ systemIdentifier: z.string().optional(), database: z.string().optional(), host: z.string().optional() });

/**
 * The record of one backup. Written last: a backup without a manifest does
 * not exist. Everything restore needs to verify itself is in here, and the
 * whole record is authenticated (`mac`, see signing.ts).
 */
export const manifestSchema = z.object({
  formatVersion: z.literal(1),
  id: z.string().regex(BACKUP_ID, 'not a backup id'),
  env: z.string().regex(ENV_NAME, 'not an env name'),
  store: z.enum(STORES),
  kind: z.enum(['logical', 'physical', 'rdb', 'snapshot']),
  tool: z.object({ name: z.string(), version: z.string() }),
  server: z.object({ version: z.string(), extensions: z.record(z.string(), z.string()).default({}) }),
  startedAt: z.string(),
  finishedAt: z.string().datetime(),
  /** Newest data timestamp in the backup (information; RPO is measured from recoveryPoint). */
  dataUpTo: z.string().nullable(),
  /** The instant the backup is consistent at (snapshot, backup stop, RDB save, snapshot creation); absent in old manifests. */
  recoveryPoint: z.string().optional(),
  source: sourceSchema.optional(),
  files: z.array(fileSchema).refine((files) => new Set(files.map((f) => f.path)).size === files.length, 'duplicate file entries'),
  tables: z.array(tableSchema).default([]),
  /** Store-specific facts: pgBackRest label and WAL range, Redis DBSIZE, Qdrant points. */
  details: z.record(z.string(), z.unknown()).default({}),
  /** Checks the backup passed before its manifest was written. */
  checks: z.array(z.string()).default([]),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestFile = z.infer<typeof fileSchema>;

export const verificationSchema = z.object({ id: z.string(), at: z.string(), ok: z.boolean(), run: z.string(), problems: z.array(z.string()) });
export type Verification = z.infer<typeof verificationSchema>;

export function newBackupId(store: Store, kind: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${store}-${kind}-${stamp}-${crypto.randomBytes(2).toString('hex')}`;
}

export const backupPrefix = (env: string, store: Store, id: string): string => `${env}/${store}/${id}`;
export const manifestKey = (env: string, store: Store, id: string): string => `${backupPrefix(env, store, id)}/manifest.json`;
/** The lock a restore holds on the backup it reads, and prune on each backup it deletes. */
export const backupLockKey = (repoUrl: string, env: string, id: string): string => `backup:${repoUrl}/${env}/${id}`;
const VERIFY_RECORD = /^verify-[0-9TZ]+\.json$/;
/** The lease a running backup keeps in its folder (repository/writing-lease.ts). */
export const LEASE_FILE = 'writing.json';
/** Files a backup folder may hold besides its artifacts (a lease left by a writer killed after its manifest included). */
export const isBookkeeping = (name: string): boolean => name === 'manifest.json' || name === LEASE_FILE || VERIFY_RECORD.test(name);

export async function writeManifest(repo: Repository, manifest: Manifest): Promise<void> {
  const key = await repositoryKey(true);
  const signed = signRecord(key, manifestSchema.parse(manifest));
  await putText(repo, manifestKey(manifest.env, manifest.store, manifest.id), JSON.stringify(signed, null, 2));
}

/** The store is encoded in the id, so an id alone finds its manifest. */
export function storeOfId(id: string): Store {
  const store = id.split('-')[0];
  if (!isBackupId(id) || !STORES.includes(store as Store)) throw new NotFoundError(`not a tickvault backup id: "${id.slice(0, 80)}"`);
  return store as Store;
}

/**
 * Parse and authenticate one manifest. `expected` is where it was found:
 * a manifest that names another backup, env or store than its folder is refused.
 */
export async function parseManifest(text: string, expected: { env: string; store: Store; id: string }, where: string): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new VerificationError(`${where} is not JSON (${messageOf(error)})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new VerificationError(`${where} is not a manifest object`);
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VerificationError(`${where} is malformed: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  checkRecord(await repositoryKey(), raw as Record<string, unknown>, where);
  const m = parsed.data;
  if (m.id !== expected.id || m.env !== expected.env || m.store !== expected.store) {
    throw new VerificationError(`${where} describes ${m.env}/${m.store}/${m.id}, not the folder it is in: refused`);
  }
  return m;
}

export async function readManifest(repo: Repository, env: string, id: string): Promise<Manifest> {
  backupIdFlag(id);
  const store = storeOfId(id);
  const key = manifestKey(env, store, id);
  let text: string;
  try {
    text = await getText(repo, key);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`no backup "${id}" in ${repo.url} (env ${env})`, { hint: 'list them with: npx tsx runbooks/backup.ts list' });
    throw error;
  }
  return parseManifest(text, { env, store, id }, `the manifest of ${id}`);
}

export interface BackupEntry {
  manifest: Manifest;
  /** The newest authentic verification record, if any. */
  verification?: Verification;
}

/** Something in the repository that is not a usable backup, named so the operator can act on it. */
export interface RepositoryProblem {
  /** The folder (env/store/name) or file. */
  key: string;
  problem: string;
}

export interface RepositoryScan {
  entries: BackupEntry[];
  /** Damaged, unauthentic or misplaced manifests and records: reported, skipped. */
  problems: RepositoryProblem[];
  /** Backup folders without a manifest (a run that never finished). */
  incomplete: { store: Store; id: string; prefix: string; keys: string[] }[];
}

async function readVerification(repo: Repository, key: string, id: string): Promise<Verification> {
  const where = `verify record ${key}`;
  let raw: unknown;
  try {
    raw = JSON.parse(await getText(repo, key));
  } catch (error) {
    throw new VerificationError(`${where} is unreadable (${messageOf(error)})`);
  }
  const parsed = verificationSchema.safeParse(raw);
  if (!parsed.success) throw new VerificationError(`${where} is malformed`);
  checkRecord(await repositoryKey(), raw as Record<string, unknown>, where);
  if (parsed.data.id !== id) throw new VerificationError(`${where} belongs to ${parsed.data.id}, not ${id}`);
  return parsed.data;
}

/**
 * Every backup folder in this env: complete backups (authentic manifest),
 * problems (reported by name and skipped), and manifest-less folders. One
 * damaged file never hides the others.
 */
export async function scanBackups(repo: Repository, env: string, store?: Store): Promise<RepositoryScan> {
  const scan: RepositoryScan = { entries: [], problems: [], incomplete: [] };
  const keys = await repo.list(store ? `${env}/${store}/` : `${env}/`);
  const folders = new Map<string, string[]>();
  for (const key of keys) {
    const parts = key.split('/');
    // Other trees under the env (a migration's file copies under files/) are not backups.
    if (!STORES.includes(parts[1] as Store)) continue;
    if (parts.length < 4) {
      scan.problems.push({ key, problem: 'a stray file outside any backup folder' });
      continue;
    }
    const folder = parts.slice(0, 3).join('/');
    folders.set(folder, [...(folders.get(folder) ?? []), key]);
  }
  for (const [folder, files] of folders) {
    const [, storeName, id] = folder.split('/') as [string, string, string];
    if (!isBackupId(id) || !id.startsWith(`${storeName}-`)) {
      scan.problems.push({ key: folder, problem: 'not a backup folder name (skipped, never touched)' });
      continue;
    }
    const s = storeName as Store;
    const mKey = `${folder}/manifest.json`;
    if (!files.includes(mKey)) {
      scan.incomplete.push({ store: s, id, prefix: folder, keys: files });
      continue;
    }
    let manifest: Manifest;
    try {
      manifest = await parseManifest(await getText(repo, mKey), { env, store: s, id }, `the manifest of ${id}`);
    } catch (error) {
      scan.problems.push({ key: mKey, problem: messageOf(error) });
      continue;
    }
    let verification: Verification | undefined;
    for (const vKey of files.filter((k) => VERIFY_RECORD.test(k.slice(folder.length + 1))).sort().reverse()) {
      try {
        verification = await readVerification(repo, vKey, id);
        break;
      } catch (error) {
        scan.problems.push({ key: vKey, problem: messageOf(error) });
      }
    }
    scan.entries.push({ manifest, ...(verification ? { verification } : {}) });
  }
  scan.entries.sort((a, b) => a.manifest.finishedAt.localeCompare(b.manifest.finishedAt));
  return scan;
}

/** Every complete backup (one with an authentic manifest) in this env, oldest first; problems go to onProblem. */
export async function listBackups(repo: Repository, env: string, store?: Store, onProblem?: (p: RepositoryProblem) => void): Promise<BackupEntry[]> {
  const scan = await scanBackups(repo, env, store);
  for (const p of scan.problems) onProblem?.(p);
  return scan.entries;
}

export async function recordVerification(repo: Repository, manifest: Manifest, verification: Omit<Verification, 'id'>): Promise<Verification> {
  const record: Verification = { id: manifest.id, ...verification };
  const stamp = record.at.replace(/[-:.]/g, '');
  await putText(repo, `${backupPrefix(manifest.env, manifest.store, manifest.id)}/verify-${stamp}.json`, JSON.stringify(signRecord(await repositoryKey(true), record)));
  return record;
}

/** A backup is good when it has a manifest and its last verification (if any) passed. */
export const isGood = (entry: BackupEntry): boolean => entry.verification?.ok !== false;
/** Verified: its newest authentic verify record passed. Only such a backup may cover an older one. */
export const isVerified = (entry: BackupEntry): boolean => entry.verification?.ok === true;

