import type { Manifest } from './manifest';

/**
 * What a backup is of, as one string: the cluster (system identifier, else
 * host:port) and, for logical backups, the database. Physical backups are of
 * a whole cluster. Old manifests without `source` fall back to the database
 * name they recorded. Retention groups by it; restore --latest matches it.
 */
export function sourceKey(manifest: Manifest): string {
  const source = manifest.source;
  const database = source?.database ?? (typeof manifest.details?.database === 'string' ? manifest.details.database : undefined);
  const cluster = source?.systemIdentifier ?? source?.host ?? '';
  if (manifest.kind === 'physical') return cluster ? `cluster ${cluster}` : '';
  if (manifest.store !== 'postgres') return cluster;
  return `${cluster ? `cluster ${cluster} ` : ''}database ${database ?? '?'}`;
}

/** Short human form for listings: "corpus1 @ 7710850850546506428". */
export function sourceLabel(manifest: Manifest): string {
  const source = manifest.source;
  const database = source?.database ?? (typeof manifest.details?.database === 'string' ? manifest.details.database : undefined);
  const cluster = source?.systemIdentifier ?? source?.host;
  if (manifest.kind === 'physical') return cluster ? `cluster ${cluster}` : 'cluster ?';
  if (!database && !cluster) return '?';
  return `${database ?? '?'}${cluster ? ` @ ${cluster}` : ''}`;
}
