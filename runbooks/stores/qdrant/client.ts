import { QdrantClient } from '@qdrant/js-client-rest';
import { ConfigError } from '../../engine/errors';

export interface QdrantTarget {
  url: string;
  apiKey?: string;
}

export function qdrantClient(target: QdrantTarget): QdrantClient {
  return new QdrantClient({ url: target.url, ...(target.apiKey ? { apiKey: target.apiKey } : {}), checkCompatibility: false });
}

export async function qdrantVersion(target: QdrantTarget, label = 'QDRANT_URL'): Promise<string> {
  try {
    return (await qdrantClient(target).versionInfo()).version;
  } catch (error) {
    throw new ConfigError(`${label}: cannot reach Qdrant at ${target.url} (${(error as Error).message})`);
  }
}

/** REST calls the client does not wrap (snapshot download and upload). */
export function qdrantFetch(target: QdrantTarget, pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (target.apiKey) headers.set('api-key', target.apiKey);
  return fetch(new URL(pathAndQuery, target.url.endsWith('/') ? target.url : `${target.url}/`), { ...init, headers });
}

/**
 * Qdrant restores into the same version, or at most the next minor
 * (its snapshot compatibility rule).
 */
export function snapshotCompatible(backupVersion: string, targetVersion: string): boolean {
  const [bMajor, bMinor] = backupVersion.split('.').map(Number);
  const [tMajor, tMinor] = targetVersion.split('.').map(Number);
  return bMajor === tMajor && tMinor! >= bMinor! && tMinor! - bMinor! <= 1;
}
