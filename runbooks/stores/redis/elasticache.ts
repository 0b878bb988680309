/**
 * Redis on ElastiCache, backed up and restored the ElastiCache way: there is
 * no CONFIG, BGSAVE or RDB file to reach. Backup = CreateSnapshot, then
 * CopySnapshot with TargetBucket (export of the RDB into the backup bucket),
 * then a manifest over the exported RDB (sha256 read back from the bucket).
 * Restore = a new replication group seeded from that RDB (SnapshotArns);
 * ElastiCache cannot restore in place.
 * Selected by ELASTICACHE_REPLICATION_GROUP (prod's backup-redis task sets it).
 */
import crypto from 'node:crypto';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { ConfigError, VerificationError } from '../../engine/errors';
import type { Run } from '../../engine/run';
import { backupPrefix, writeManifest, type Manifest } from '../../repository/manifest';
import { startBackup } from '../../repository/writing-lease';
import type { Repository } from '../../repository/repository';

/** Bucket and key prefix of an s3:// BACKUP_REPO (ElastiCache writes into the bucket itself). */
export function s3Location(repoUrl: string): { bucket: string; prefix: string } {
  const url = new URL(repoUrl);
  if (url.protocol !== 's3:' || !url.hostname) throw new ConfigError('ELASTICACHE_REPLICATION_GROUP needs BACKUP_REPO=s3://bucket[/prefix]: ElastiCache exports only to S3');
  const prefix = url.pathname.replace(/^\/+|\/+$/g, '');
  return { bucket: url.hostname, prefix: prefix ? `${prefix}/` : '' };
}

/** Names for one backup: the ElastiCache snapshot, and the export's object name (ElastiCache appends `-0001.rdb`). */
export function exportNames(env: string, id: string, prefix: string) {
  const repoKey = backupPrefix(env, 'redis', id);
  return {
    snapshot: `tickvault-${id.replace(/[^A-Za-z0-9-]/g, '-').toLowerCase()}`.slice(0, 255),
    /** Repository-relative key of the exported RDB. */
    rdbKey: `${repoKey}/elasticache-0001.rdb`,
    /** CopySnapshot's TargetSnapshotName: the bucket key without the shard suffix. */
    target: `${prefix}${repoKey}/elasticache`,
  };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new VerificationError(`${what}: not done after ${Math.round(timeoutMs / 60000)} min`);
    await new Promise((resolve) => setTimeout(resolve, 15_000)); // polling AWS, not synchronising a test
  }
}

async function client(region: string | undefined): Promise<{ ec: ElastiCacheClient; sdk: typeof import('@aws-sdk/client-elasticache') }> {
  const sdk = await import('@aws-sdk/client-elasticache');
  return { ec: new sdk.ElastiCacheClient(region ? { region } : {}), sdk };
}

export interface ElastiCacheBackupOptions {
  replicationGroupId: string;
  repo: Repository;
  repoUrl: string;
  env: string;
  region?: string;
}

export async function elasticacheBackup(run: Run, opts: ElastiCacheBackupOptions): Promise<Manifest> {
  const { bucket, prefix } = s3Location(opts.repoUrl);
  const startedAt = new Date();
  const id = await startBackup(run, opts.repo, opts.env, 'redis', 'rdb', startedAt);
  const names = exportNames(opts.env, id, prefix);
  const { ec, sdk } = await client(opts.region);
  const status = async () => (await ec.send(new sdk.DescribeSnapshotsCommand({ SnapshotName: names.snapshot }))).Snapshots?.[0];

  const group = await run.step('describe replication group', async () => {
    const found = (await ec.send(new sdk.DescribeReplicationGroupsCommand({ ReplicationGroupId: opts.replicationGroupId }))).ReplicationGroups?.[0];
    if (!found) throw new ConfigError(`ELASTICACHE_REPLICATION_GROUP: no replication group "${opts.replicationGroupId}"`);
    return found;
  }, { readOnly: true });
  await run.step(`snapshot ${names.snapshot}`, async () => {
    await ec.send(new sdk.CreateSnapshotCommand({ ReplicationGroupId: opts.replicationGroupId, SnapshotName: names.snapshot }));
    await until('snapshot', 3_600_000, async () => ((await status())?.SnapshotStatus === 'available' ? true : undefined));
  });
  const snapshot = await status();
  await run.step(`export to s3://${bucket}/${names.target}`, async () => {
    await ec.send(new sdk.CopySnapshotCommand({ SourceSnapshotName: names.snapshot, TargetSnapshotName: names.target, TargetBucket: bucket }));
    // The source shows `exporting` until the object is in the bucket.
    await until('export', 3_600_000, async () => ((await status())?.SnapshotStatus === 'available' && (await opts.repo.exists(names.rdbKey)) ? true : undefined));
  });
  const file = await run.step('read back the exported RDB (sha256)', async () => {
    const hash = crypto.createHash('sha256');
    let size = 0;
    for await (const chunk of await opts.repo.get(names.rdbKey)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    if (size === 0) throw new VerificationError(`the exported RDB ${names.rdbKey} is empty`);
    return { path: 'elasticache-0001.rdb', size, sha256: hash.digest('hex') };
  }, { readOnly: true });
  await run.step('delete the in-ElastiCache copy (the bucket keeps the export)', () => ec.send(new sdk.DeleteSnapshotCommand({ SnapshotName: names.snapshot })));

  const manifest: Manifest = {
    formatVersion: 1,
    id,
    env: opts.env,
    store: 'redis',
    kind: 'rdb',
    tool: { name: 'ElastiCache CreateSnapshot + CopySnapshot export', version: snapshot?.EngineVersion ?? 'unknown' },
    server: { version: snapshot?.EngineVersion ?? 'unknown', extensions: {} },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    dataUpTo: (snapshot?.NodeSnapshots?.[0]?.SnapshotCreateTime ?? startedAt).toISOString(),
    files: [file],
    tables: [],
    details: { elasticache: { replicationGroupId: opts.replicationGroupId, snapshot: names.snapshot, nodeType: group.CacheNodeType ?? null, s3: `s3://${bucket}/${prefix}${names.rdbKey}` } },
    checks: ['snapshot available', 'export present in the bucket', 'sha256 of the exported RDB'],
  };
  await run.step('write manifest', () => writeManifest(opts.repo, manifest));
  return manifest;
}

export interface ElastiCacheRestoreOptions {
  manifest: Manifest;
  /** The new replication group (ElastiCache restores into a new group, never in place). */
  targetGroupId: string;
  /** Copied from the source group unless given. */
  nodeType?: string;
  subnetGroup?: string;
  securityGroupIds?: string[];
  region?: string;
}

/** A new replication group seeded from the exported RDB; waits until it is available and reports its endpoint. */
export async function elasticacheRestore(run: Run, opts: ElastiCacheRestoreOptions): Promise<{ replicationGroupId: string; endpoint: string }> {
  const details = (opts.manifest.details.elasticache ?? {}) as { s3?: string; nodeType?: string; replicationGroupId?: string };
  if (!details.s3) throw new ConfigError(`backup ${opts.manifest.id} was not made by an ElastiCache export`);
  const { ec, sdk } = await client(opts.region);
  const source = details.replicationGroupId
    ? (await ec.send(new sdk.DescribeReplicationGroupsCommand({ ReplicationGroupId: details.replicationGroupId }))).ReplicationGroups?.[0]
    : undefined;
  const sourceCluster = source?.MemberClusters?.[0]
    ? (await ec.send(new sdk.DescribeCacheClustersCommand({ CacheClusterId: source.MemberClusters[0] }))).CacheClusters?.[0]
    : undefined;
  const nodeType = opts.nodeType ?? details.nodeType;
  if (!nodeType) throw new ConfigError('the restore needs a node type (the source group is gone): pass it explicitly');
  await run.step(`create replication group ${opts.targetGroupId} from ${details.s3}`, () =>
    ec.send(new sdk.CreateReplicationGroupCommand({
      ReplicationGroupId: opts.targetGroupId,
      ReplicationGroupDescription: `tickvault restore of ${opts.manifest.id}`,
      Engine: 'redis',
      CacheNodeType: nodeType,
      NumCacheClusters: 1,
      SnapshotArns: [details.s3!.replace(/^s3:\/\//, 'arn:aws:s3:::')],
      AtRestEncryptionEnabled: true,
      TransitEncryptionEnabled: true,
      CacheSubnetGroupName: opts.subnetGroup ?? sourceCluster?.CacheSubnetGroupName,
      SecurityGroupIds: opts.securityGroupIds ?? sourceCluster?.SecurityGroups?.map((g) => g.SecurityGroupId!).filter(Boolean),
    })),
  );
  const endpoint = await run.step('wait until available', () =>
    until('replication group', 3_600_000, async () => {
      const g = (await ec.send(new sdk.DescribeReplicationGroupsCommand({ ReplicationGroupId: opts.targetGroupId }))).ReplicationGroups?.[0];
      const address = g?.NodeGroups?.[0]?.PrimaryEndpoint?.Address;
      return g?.Status === 'available' && address ? `${address}:${g.NodeGroups![0]!.PrimaryEndpoint!.Port ?? 6379}` : undefined;
    }),
  );
  return { replicationGroupId: opts.targetGroupId, endpoint };
}
