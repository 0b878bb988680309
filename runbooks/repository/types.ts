import type { Readable } from 'node:stream';
import { ConfigError } from '../engine/errors';

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
  /** Every key under a prefix, recursively (symlinks included, so checks can refuse them). */
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
  S3_ENDPOINT?: string | undefined;
  AWS_REGION?: string | undefined;
  AWS_ACCESS_KEY_ID?: string | undefined;
  AWS_SECRET_ACCESS_KEY?: string | undefined;
}
