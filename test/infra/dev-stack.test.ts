import { beforeAll, describe, expect, it } from 'vitest';
import type { Declared } from '../../infra/mocks';
import { retentionRules } from '../../infra/components/retention';
import { parseConfig } from '../../infra/config';
import { declareStack, ofType, one } from './declare';

let resources: Declared[];
let outputs: Record<string, any>;

beforeAll(async () => {
  ({ resources, outputs } = await declareStack('dev'));
});

describe('dev stack (Docker, under Pulumi mocks)', () => {
  it('a network, protected volumes, and pinned images for timescaledb-ha, qdrant, redis and minio', () => {
    expect(ofType(resources, 'docker:index/network:Network')).toHaveLength(1);
    const volumes = ofType(resources, 'docker:index/volume:Volume');
    expect(volumes.map((v) => v.name).sort()).toEqual(['tickvault-dev-minio', 'tickvault-dev-pgdata', 'tickvault-dev-qdrant', 'tickvault-dev-redis']);
    for (const v of volumes) expect(v.protect).toBe(true);
    const images = ofType(resources, 'docker:index/remoteImage:RemoteImage').map((i) => i.inputs.name as string);
    for (const prefix of ['timescale/timescaledb-ha:', 'qdrant/qdrant:', 'redis:', 'minio/minio:']) expect(images.some((i) => i.startsWith(prefix))).toBe(true);
    for (const image of images) expect(image).toMatch(/:(?!latest$)[^:/]+$/);
  });

  it('every server has a healthcheck and Pulumi waits for it', () => {
    const servers = ofType(resources, 'docker:index/container:Container').filter((c) => !c.name.endsWith('bucket-setup'));
    expect(servers).toHaveLength(4);
    for (const c of servers) {
      expect(c.inputs, c.name).toMatchObject({ wait: true, healthcheck: { tests: expect.any(Array) } });
    }
    // pg_isready can pass against the entrypoint's temporary server: check over TCP with a real query.
    const pg = one(resources, 'docker:index/container:Container', 'tickvault-dev-timescaledb');
    expect((pg.inputs.healthcheck as any).tests.join(' ')).toMatch(/psql -h 127\.0\.0\.1/);
  });

  it('the same bucket and retention as prod, applied to MinIO with mc ILM', () => {
    const setup = one(resources, 'docker:index/container:Container', 'tickvault-dev-bucket-setup');
    const script = (setup.inputs.command as string[]).join(' ');
    expect(script).toContain('mc mb -p local/tickvault-backups');
    expect(script).toContain('mc version enable');
    const backups = parseConfig({ target: 'docker' }).backups;
    for (const rule of retentionRules(backups, 'dev')) expect(script).toContain(`--prefix '${rule.prefix}' --expire-days ${rule.days}`);
  });

  it('exports the same connection outputs as prod', () => {
    expect(Object.keys(outputs).sort()).toEqual(['backupRepo', 'envVault', 'postgres', 'qdrant', 'redis', 's3']);
    expect(outputs.postgres).toMatchObject({ host: '127.0.0.1', port: 55432, url: expect.stringMatching(/^postgres:\/\/postgres:.*@127\.0\.0\.1:55432\/tickvault$/) });
    expect(outputs.s3).toEqual({ bucket: 'tickvault-backups', endpoint: 'http://127.0.0.1:59000' });
    const urns = resources.map((r) => r.urn);
    expect(new Set(urns).size).toBe(urns.length);
  });
});

describe('config', () => {
  it('defaults come from seed 004', () => {
    const c = parseConfig({ target: 'docker' });
    expect(c.backups).toMatchObject({ postgres: { cron: 'cron(0 3 * * ? *)', retentionDays: 30 }, wal: { retentionDays: 7 }, qdrant: { cron: 'cron(0 4 * * ? *)', retentionDays: 30 }, redis: { cron: 'cron(0 5 * * ? *)', retentionDays: 7 }, timezone: 'UTC' });
  });

  it.each([
    [{ target: 'k8s' }, /tickvault:target/],
    [{ target: 'docker', docker: { images: { qdrant: 'qdrant/qdrant:latest' } } }, /tickvault:docker\.images\.qdrant: must be pinned/],
    [{ target: 'docker', docker: { images: { redis: 'redis' } } }, /tickvault:docker\.images\.redis: must name an image with a tag/],
    [{ target: 'docker', backups: { postgres: { cron: '0 3 * * *' } } }, /tickvault:backups\.postgres\.cron/],
    [{ target: 'aws' }, /tickvault:aws: required/],
    [{ target: 'aws', aws: { region: 'Europe', vpcId: 'vpc-1', subnetIds: ['subnet-1', 'subnet-2'], amiId: 'ami-1', runbookImage: 'x:1' } }, /tickvault:aws\.region/],
    [{ target: 'aws', aws: { region: 'eu-west-1', vpcId: 'vpc-1', subnetIds: ['subnet-1'], amiId: 'ami-1', runbookImage: 'x:1' } }, /tickvault:aws\.subnetIds: needs two/],
  ])('a bad value names its key: %j', (raw, message) => {
    expect(() => parseConfig(raw as Record<string, unknown>)).toThrow(message);
  });
});
