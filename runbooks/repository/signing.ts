import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, VerificationError } from '../engine/errors';
import { stateRoot } from '../engine/paths';
import { canonicalJson } from '../env/crypto';

/**
 * Manifests and verify records are authenticated with HMAC-SHA256 under a
 * repository key the repository itself does not hold: someone who can write
 * to the bucket but has no key cannot rewrite a sha256 (or fake a passed
 * verification) undetected.
 *
 * The key: TICKVAULT_REPO_KEY_FILE, default `repository.key` next to the env
 * vault key (0600, created on first backup). With TICKVAULT_KMS_KEY_ID the
 * key is a KMS data key whose wrapped form is kept in the state folder
 * (`repository.key.kms`) and unwrapped by KMS with an encryption context.
 */
export interface RepositoryKey {
  readonly id: string;
  readonly key: Buffer;
}

const keyFileDefault = (): string => {
  if (process.env.TICKVAULT_REPO_KEY_FILE) return process.env.TICKVAULT_REPO_KEY_FILE;
  const vaultKey = process.env.TICKVAULT_ENV_KEY_FILE;
  return path.join(vaultKey ? path.dirname(vaultKey) : stateRoot(), 'repository.key');
};

let cached: Promise<RepositoryKey> | undefined;

function readKeyFile(file: string): Buffer {
  const stat = fs.lstatSync(file);
  if (!stat.isFile()) throw new ConfigError(`the repository key ${file} is not a regular file`);
  if (stat.mode & 0o077) throw new ConfigError(`the repository key ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new ConfigError(`the repository key ${file} is not a base64 256-bit key`);
  return key;
}

/** A repository key from its file (also what tests use to play an insider who holds the key). */
export function fileRepositoryKey(file: string): RepositoryKey {
  const key = readKeyFile(file);
  return { id: `local:${crypto.createHash('sha256').update(key).digest('hex').slice(0, 16)}`, key };
}

async function loadFileKey(create: boolean): Promise<RepositoryKey> {
  const file = keyFileDefault();
  if (!fs.existsSync(file)) {
    if (!create) {
      throw new ConfigError(`the repository key ${file} does not exist, so manifests cannot be authenticated`, { hint: 'point TICKVAULT_REPO_KEY_FILE at the key the backups were written with' });
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    try {
      fs.writeFileSync(file, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // a concurrent run made it first
    }
  }
  return fileRepositoryKey(file);
}

async function loadKmsKey(keyId: string, create: boolean): Promise<RepositoryKey> {
  const file = `${keyFileDefault()}.kms`;
  const context = { purpose: 'tickvault-repository-mac' };
  const { KMSClient, DecryptCommand, GenerateDataKeyCommand } = await import('@aws-sdk/client-kms');
  const client = new KMSClient(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {});
  if (!fs.existsSync(file)) {
    if (!create) throw new ConfigError(`the wrapped repository key ${file} does not exist`, { hint: 'copy it from the host that wrote the backups' });
    const made = await client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context }));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(made.CiphertextBlob!).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const out = await client.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'), EncryptionContext: context }));
  const key = Buffer.from(out.Plaintext!);
  return { id: `kms:${keyId}:${crypto.createHash('sha256').update(key).digest('hex').slice(0, 8)}`, key };
}

/** The repository key; `create` on the write path (a backup), never when reading. */
export function repositoryKey(create = false): Promise<RepositoryKey> {
  const kms = process.env.TICKVAULT_KMS_KEY_ID;
  if (create) return kms ? loadKmsKey(kms, true) : loadFileKey(true);
  cached ??= kms ? loadKmsKey(kms, false) : loadFileKey(false);
  return cached;
}

const macOf = (key: RepositoryKey, body: unknown): string => crypto.createHmac('sha256', key.key).update(canonicalJson(body)).digest('hex');

/** Add `mac` to a record (over every other field, canonical JSON). */
export function signRecord<T extends object>(key: RepositoryKey, record: T): T & { mac: string } {
  const { mac: _drop, ...body } = record as T & { mac?: string };
  return { ...(body as T), mac: `hmac-sha256:${key.id}:${macOf(key, body)}` };
}

/** Check a record's `mac` in constant time; throws VerificationError naming `what`. */
export function checkRecord(key: RepositoryKey, record: Record<string, unknown>, what: string): void {
  const { mac, ...body } = record;
  if (typeof mac !== 'string') throw new VerificationError(`${what} is not authenticated (no mac): refused`);
  const m = /^hmac-sha256:(.+):([0-9a-f]{64})$/.exec(mac);
  if (!m) throw new VerificationError(`${what} has a malformed mac: refused`);
  if (m[1] !== key.id) throw new VerificationError(`${what} was signed with key ${m[1]}, not ${key.id} (the repository key in use): refused`);
  const expected = Buffer.from(macOf(key, body), 'hex');
  if (!crypto.timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'))) throw new VerificationError(`${what} was changed after it was written (its mac does not match): refused`);
}
