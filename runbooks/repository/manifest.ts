import crypto from 'node:crypto';
import { z } from 'zod';
import { VerificationError } from '../engine/errors';
import { getText, NotFoundError, putText, type Repository } from './repository';

export const STORES = ['postgres', 'redis', 'qdrant'] as const;
export type Store = (typeof STORES)[number];

const fileSchema = z.object({ path: z.string(), size: z.number(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
const columnSchema = z.object({ name: z.string(), type: z.string() });
// algo `named` is verify/row-hash.ts; `record` and `md5` are older backups' row hashes.
const tableSchema = z.object({ table: z.string(), rows: z.number(), hash: z.string(), algo: z.enum(['named', 'record', 'md5']).default('md5'), columns: z.array(columnSchema).optional() });
/** Where a backup came from: restore --latest and retention never mix sources. */
const sourceSchema = z.object({ systemIdentifier: z.string().optional(), database: z.string().optional(), host: z.string().optional() });

/**
 * The record of one backup. Written last: a backup without a manifest does
 * not exist. Everything restore needs to verify itself is in here.
 */
export const manifestSchema = z.object({
  formatVersion: z.literal(1),
  id: z.string(),
  env: z.string(),
  store: z.enum(STORES),
  kind: z.enum(['logical', 'physical', 'rdb', 'snapshot']),
  tool: z.object({ name: z.string(), version: z.string() }),
  server: z.object({ version: z.string(), extensions: z.record(z.string(), z.string()).default({}) }),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Newest data timestamp in the backup (information; RPO is measured from recoveryPoint). */
  dataUpTo: z.string().nullable(),
  /** The instant the backup is consistent at (snapshot, backup stop, RDB save, snapshot creation); absent in old manifests. */
  recoveryPoint: z.string().optional(),
  source: sourceSchema.optional(),
  files: z.array(fileSchema),
  tables: z.array(tableSchema).default([]),
  /** Store-specific facts: pgBackRest label and WAL range, Redis DBSIZE, Qdrant points. */
  details: z.record(z.string(), z.unknown()).default({}),
  /** Checks the backup passed before its manifest was written. */
  checks: z.array(z.string()).default([]),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestFile = z.infer<typeof fileSchema>;

export const verificationSchema = z.object({ at: z.string(), ok: z.boolean(), run: z.string(), problems: z.array(z.string()) });
export type Verification = z.infer<typeof verificationSchema>;

export function newBackupId(store: Store, kind: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${store}-${kind}-${stamp}-${crypto.randomBytes(2).toString('hex')}`;
}

export const backupPrefix = (env: string, store: Store, id: string): string => `${env}/${store}/${id}`;
export const manifestKey = (env: string, store: Store, id: string): string => `${backupPrefix(env, store, id)}/manifest.json`;

export async function writeManifest(repo: Repository, manifest: Manifest): Promise<void> {
  await putText(repo, manifestKey(manifest.env, manifest.store, manifest.id), JSON.stringify(manifestSchema.parse(manifest), null, 2));
}

/** The store is encoded in the id, so an id alone finds its manifest. */
export function storeOfId(id: string): Store {
  const store = id.split('-')[0];
  if (!STORES.includes(store as Store)) throw new NotFoundError(`not a tickvault backup id: "${id}"`);
  return store as Store;
}

export async function readManifest(repo: Repository, env: string, id: string): Promise<Manifest> {
  const key = manifestKey(env, storeOfId(id), id);
  let text: string;
  try {
    text = await getText(repo, key);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`no backup "${id}" in ${repo.url} (env ${env})`, { hint: 'list them with: npx tsx runbooks/backup.ts list' });
    throw error;
  }
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new VerificationError(`the manifest of ${id} is malformed: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export interface BackupEntry {
  manifest: Manifest;
  /** The newest verification record, if any. */
  verification?: Verification;
}

/** Every complete backup (one with a manifest) in this env, oldest first. */
export async function listBackups(repo: Repository, env: string, store?: Store): Promise<BackupEntry[]> {
  const keys = await repo.list(store ? `${env}/${store}/` : `${env}/`);
  const entries: BackupEntry[] = [];
  for (const key of keys.filter((k) => k.endsWith('/manifest.json'))) {
    const manifest = manifestSchema.safeParse(JSON.parse(await getText(repo, key)));
    if (!manifest.success) continue;
    const verifications = keys.filter((k) => k.startsWith(key.replace('manifest.json', 'verify-'))).sort();
    const last = verifications.at(-1);
    const verification = last ? verificationSchema.parse(JSON.parse(await getText(repo, last))) : undefined;
    entries.push({ manifest: manifest.data, ...(verification ? { verification } : {}) });
  }
  return entries.sort((a, b) => a.manifest.finishedAt.localeCompare(b.manifest.finishedAt));
}

export async function recordVerification(repo: Repository, manifest: Manifest, verification: Verification): Promise<void> {
  const stamp = verification.at.replace(/[-:.]/g, '');
  await putText(repo, `${backupPrefix(manifest.env, manifest.store, manifest.id)}/verify-${stamp}.json`, JSON.stringify(verification));
}

/** A backup is good when it has a manifest and its last verification (if any) passed. */
export const isGood = (entry: BackupEntry): boolean => entry.verification?.ok !== false;
