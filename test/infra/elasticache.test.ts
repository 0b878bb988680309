import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportNames, s3Location } from '../../runbooks/stores/redis/elasticache';
import { runRunbook } from '../helpers/runbook';
import { declareStack, one, statements } from './declare';

// No ElastiCache can run here and no double stands in for it: what is checked is the
// naming contract between the runbook and the bucket policy, and the routing.
describe('Redis on ElastiCache', () => {
  it('exports land where the bucket policy lets ElastiCache write, inside the backup prefix', async () => {
    const { bucket, prefix } = s3Location('s3://backups-bucket-0a1b2c/');
    expect({ bucket, prefix }).toEqual({ bucket: 'backups-bucket-0a1b2c', prefix: '' });
    expect(s3Location('s3://b/nested/path').prefix).toBe('nested/path/');
    const names = exportNames('prod', 'redis-rdb-20260304T050000Z-ab12', prefix);
    expect(names.target).toBe('prod/redis/redis-rdb-20260304T050000Z-ab12/elasticache');
    expect(names.rdbKey).toBe(`${names.target}-0001.rdb`);
    expect(names.snapshot).toMatch(/^tickvault-[a-z0-9-]+$/);
    const { resources } = await declareStack('prod');
    const allowed = statements(one(resources, 'aws:s3/bucketPolicy:BucketPolicy')).find((s) => s.Sid === 'ElastiCacheExportObjects').Resource[0] as string;
    expect(`arn:aws:s3:::${bucket}/${names.target}-0001.rdb`.startsWith(allowed.replace(/\*$/, ''))).toBe(true);
    const task = statements(one(resources, 'aws:iam/rolePolicy:RolePolicy', 'backup-task-repository')).find((s) => s.Action.includes('elasticache:CreateSnapshot'));
    expect(task.Resource.some((r: string) => r.endsWith(':snapshot:tickvault-*'))).toBe(true);
  });

  it('backup.ts redis with ELASTICACHE_REPLICATION_GROUP takes the ElastiCache path, and refuses a non-S3 repository with exit 2', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tickvault-ec-'));
    try {
      const out = await runRunbook('backup', ['redis', '--json'], { env: { TICKVAULT_HOME: home, ELASTICACHE_REPLICATION_GROUP: 'cache-redis', BACKUP_REPO: `file://${home}/repo`, REDIS_URL: 'redis://127.0.0.1:1' } });
      expect(out.code).toBe(2);
      expect(out.summary?.error).toMatchObject({ message: expect.stringMatching(/ElastiCache exports only to S3/) });
      expect(fs.existsSync(path.join(home, 'repo'))).toBe(false);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
