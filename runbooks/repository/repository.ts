import { Readable } from 'node:stream';
import { ConfigError } from '../engine/errors';
import { FileRepository } from './file-repository';
import { S3Repository } from './s3-repository';
import type { Repository, RepositoryEnv, StoredObject } from './types';

export { NotFoundError, type Repository, type RepositoryEnv, type StoredObject } from './types';

/** The one place that reads the repository's connection settings (S3 endpoint, region, credentials). */
export function repositoryEnv(settings: { get(name: string): string | undefined }): RepositoryEnv {
  return {
    S3_ENDPOINT: settings.get('S3_ENDPOINT'),
    AWS_REGION: settings.get('AWS_REGION'),
    AWS_ACCESS_KEY_ID: settings.get('AWS_ACCESS_KEY_ID'),
    AWS_SECRET_ACCESS_KEY: settings.get('AWS_SECRET_ACCESS_KEY'),
  };
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
