import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../engine/errors';
import { stateRoot } from '../engine/paths';
import { open, seal, SealBroken } from './crypto';

/** What a wrapped data key is bound to: it opens only for this service and version. */
export interface KeyContext {
  service: string;
  version: string;
}

/** Wraps and unwraps the per-version data keys (envelope encryption). */
export interface KeyProvider {
  /** Stable id written into each version, to tell "wrong key" from "tampered". */
  readonly id: string;
  wrap(dataKey: Buffer, context: KeyContext): Promise<string>;
  unwrap(wrapped: string, context: KeyContext): Promise<Buffer>;
}

const aadOf = (c: KeyContext): string => `tickvault-data-key\0${c.service}\0${c.version}`;

export const defaultKeyFile = (): string => process.env.TICKVAULT_ENV_KEY_FILE ?? path.join(stateRoot(), 'env-vault.key');

/** A local 256-bit key file, created on first use with mode 0600. */
export class FileKeyProvider implements KeyProvider {
  readonly id: string;
  private readonly key: Buffer;

  constructor(file: string, opts: { create: boolean }) {
    if (!fs.existsSync(file)) {
      if (!opts.create) throw new ConfigError(`the vault key ${file} does not exist`, { hint: 'point TICKVAULT_ENV_KEY_FILE at the key the versions were sealed with' });
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    }
    const mode = fs.statSync(file).mode & 0o077;
    if (mode !== 0) throw new ConfigError(`the vault key ${file} is readable by others (mode ${(fs.statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new ConfigError(`the vault key ${file} is not a base64 256-bit key`);
    this.key = key;
    this.id = `local:${crypto.createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  }

  async wrap(dataKey: Buffer, context: KeyContext): Promise<string> {
    return seal(this.key, dataKey, aadOf(context));
  }

  async unwrap(wrapped: string, context: KeyContext): Promise<Buffer> {
    try {
      return open(this.key, wrapped, aadOf(context));
    } catch (error) {
      if (error instanceof SealBroken) throw new SealBroken('the data key does not open with this vault key');
      throw error;
    }
  }
}

/** The KMS encryption context binds the data key to its service and version (and shows in CloudTrail). */
const kmsContext = (c: KeyContext): Record<string, string> => ({ purpose: 'tickvault-env', service: c.service, version: c.version });

/** AWS KMS: the data key is encrypted by a KMS key (prod). */
export class KmsKeyProvider implements KeyProvider {
  readonly id: string;
  constructor(private readonly keyId: string, private readonly region?: string) {
    this.id = `kms:${keyId}`;
  }

  private async client() {
    const { KMSClient } = await import('@aws-sdk/client-kms');
    return new KMSClient(this.region ? { region: this.region } : {});
  }

  async wrap(dataKey: Buffer, context: KeyContext): Promise<string> {
    const { EncryptCommand } = await import('@aws-sdk/client-kms');
    const out = await (await this.client()).send(new EncryptCommand({ KeyId: this.keyId, Plaintext: dataKey, EncryptionContext: kmsContext(context) }));
    return Buffer.from(out.CiphertextBlob!).toString('base64');
  }

  async unwrap(wrapped: string, context: KeyContext): Promise<Buffer> {
    const { DecryptCommand } = await import('@aws-sdk/client-kms');
    try {
      const out = await (await this.client()).send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: Buffer.from(wrapped, 'base64'), EncryptionContext: kmsContext(context) }));
      return Buffer.from(out.Plaintext!);
    } catch (error) {
      if ((error as { name?: string }).name === 'InvalidCiphertextException') throw new SealBroken('KMS could not decrypt the data key');
      throw error;
    }
  }
}
