import { Readable } from 'node:stream';
import { ConfigError } from '../engine/errors';
import { FileRepository } from './file-repository';
import { S3Repository } from './s3-repository';

export interface StoredObject {
  size: number;
  sha256: string;
}

/**
 * Where backups live. Keys are relative paths ("local/postgres/<id>/x");
 * every write streams and hashes on the way, never buffering an artifact.
 */
export interface Repository {
  /** The repository URL, for messages (no credentials in it). */
  readonly url: string;
  put(key: string, body: Readable): Promise<StoredObject>;
  get(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Every key under a prefix, recursively. */
  list(prefix: string): Promise<string[]>;
  remove(keys: string[]): Promise<void>;
  /** Local repositories: store a finished file by renaming it (no copy). */
  putFile?(key: string, file: string): Promise<StoredObject>;
  /** Local repositories: a directory on the same filesystem for staging. */
  stagingRoot?(): string;
  /** Local repositories: where a key lives on disk, so restores read in place. */
  localPath?(key: string): string;
}

export class NotFoundError extends ConfigError {}

export interface RepositoryEnv {
  S3_ENDPOINT?: string;
  AWS_REGION?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
}

export function openRepository(url: string, env: RepositoryEnv = {}): Repository {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`BACKUP_REPO: not a URL: "${url}" (expected file:///path or s3://bucket/prefix)`);
  }
  if (parsed.protocol === 'file:') return new FileRepository(decodeURIComponent(parsed.pathname));
  if (parsed.protocol === 's3:') {
    if (!parsed.hostname) throw new ConfigError('BACKUP_REPO: s3:// URL needs a bucket, e.g. s3://tickvault-backups/prod');
    return new S3Repository(parsed.hostname, parsed.pathname.replace(/^\/+|\/+$/g, ''), env);
  }
  throw new ConfigError(`BACKUP_REPO: unsupported scheme "${parsed.protocol}" (expected file:// or s3://)`);
}

export async function getText(repo: Repository, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await repo.get(key)) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function putText(repo: Repository, key: string, text: string): Promise<StoredObject> {
  return repo.put(key, Readable.from([Buffer.from(text, 'utf8')]));
}
