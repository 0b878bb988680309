import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config';
import { runbookJobs } from '../../infra/jobs';
import type { Declared } from '../../infra/mocks';
import { policies } from '../../infra/policy/policies';
import { createResourceValidationArgs, resourceViolations } from './policy-harness';
import { root } from '../helpers/runbook';
import { declareStack, ofType, one } from './declare';

let resources: Declared[];
let outputs: Record<string, any>;

beforeAll(async () => {
  ({ resources, outputs } = await declareStack('dev'));
});

const container = (name: string) => one(resources, 'docker:index/container:Container', `tickvault-dev-${name}`).inputs as any;
const envOf = (name: string) => Object.fromEntries((container(name).envs as string[]).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));

describe('dev stack (Docker, under Pulumi mocks)', () => {
  it('images match what the tests run: PostgreSQL 15 with TimescaleDB 2.28.x, every image pinned', () => {
    const images = ofType(resources, 'docker:index/remoteImage:RemoteImage').map((i) => i.inputs.name as string);
    expect(images).toContainEqual(expect.stringMatching(/^timescale\/timescaledb-ha:pg15\.\d+-ts2\.28\.\d+-all$/));
    for (const prefix of ['qdrant/qdrant:', 'redis:', 'minio/minio:', 'minio/mc:', 'tickvault-runbooks:']) expect(images.some((i) => i.startsWith(prefix)), prefix).toBe(true);
  });

  it('every published port listens on 127.0.0.1 only', () => {
    const published = ofType(resources, 'docker:index/container:Container').flatMap((c) => ((c.inputs.ports ?? []) as any[]).map((p) => ({ ...p, c: c.name })));
    expect(published).toHaveLength(4);
    for (const p of published) expect(p.ip, p.c).toBe('127.0.0.1');
  });

  it('no default passwords: PostgreSQL, Redis and MinIO get generated ones, kept secret', () => {
    const passwords = ofType(resources, 'random:index/randomPassword:RandomPassword').map((p) => p.name);
    expect(passwords).toEqual(expect.arrayContaining(['tickvault-dev-postgres-password', 'tickvault-dev-redis-password', 'tickvault-dev-minio-password']));
    expect(envOf('timescaledb').POSTGRES_PASSWORD).toMatch(/^generatedtickvaultdevpos/);
    expect(envOf('minio').MINIO_ROOT_PASSWORD).toMatch(/^generatedtickvaultdevmin/);
    expect(envOf('redis').REDISCLI_AUTH).toMatch(/^generatedtickvaultdevred/);
    expect(envOf('qdrant').QDRANT__SERVICE__API_KEY).toMatch(/^generatedtickvaultdevqdr/);
    expect(container('redis').command.join(' ')).not.toMatch(/generated/); // not in argv (ps)
  });

  it('data volumes survive `pulumi destroy` (retainOnDelete) without protect blocking it', () => {
    const volumes = ofType(resources, 'docker:index/volume:Volume');
    expect(volumes.map((v) => v.name).sort()).toEqual(['tickvault-dev-minio', 'tickvault-dev-pgdata', 'tickvault-dev-qdrant', 'tickvault-dev-redis']);
    for (const v of volumes) expect(v).toMatchObject({ retainOnDelete: true, protect: false });
  });

  it('servers gate dependants on real healthchecks', () => {
    for (const name of ['timescaledb', 'qdrant', 'redis', 'minio']) expect(container(name), name).toMatchObject({ wait: true, healthcheck: { tests: expect.any(Array) } });
    expect(container('timescaledb').healthcheck.tests.join(' ')).toMatch(/psql -h 127\.0\.0\.1/);
    expect(envOf('timescaledb').POSTGRES_DB).toBe('tickvault');
  });

  it('the bucket job: versioned, noncurrent versions expire under dev/ only, and its exit code is waited for', () => {
    const setup = container('bucket-setup');
    expect(setup).toMatchObject({ attach: true, mustRun: false });
    const script = setup.command.join('\n');
    expect(script).toMatch(/^set -e/);
    expect(script).toContain('mc version enable local/tickvault-backups');
    expect(script).toContain("mc ilm rule add --prefix 'dev/' --noncurrent-expire-days 7");
    expect(script).not.toMatch(/--expire-days|pgbackrest/);
  });

  it('a MinIO job that exits non-zero fails the update', () => {
    // In its own process, as `pulumi up` runs the program: the failed apply must take the run down.
    const code = `
      import { declareProgram, stackConfig } from ${JSON.stringify(path.join(root, 'infra/mocks.ts'))};
      const { values, secretKeys } = stackConfig('dev', ${JSON.stringify(root)});
      const exitCode = Number(process.env.EXIT_CODE);
      await declareProgram('dev', values, secretKeys, (type, name, state) => (name === 'tickvault-dev-bucket-setup' ? { ...state, exitCode } : state));
      console.log('declared');`;
    const run = (exitCode: number) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, EXIT_CODE: String(exitCode) }, encoding: 'utf8', timeout: 120_000 });
    const failed = run(3);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/tickvault-dev-bucket-setup exited with code 3/);
    const ok = run(0);
    expect(ok.stderr).not.toMatch(/exited with code/);
    expect(ok.stdout).toContain('declared');
  });

  it("a scheduler container runs prod's job list against the dev stores", () => {
    const scheduler = container('scheduler');
    expect(scheduler.command).toEqual(['infra/scheduler/dev-scheduler.ts']);
    expect(scheduler.image).toMatch(/^sha256:/);
    const env = envOf('scheduler');
    const jobs = JSON.parse(env.TICKVAULT_JOBS ?? "[]");
    expect(jobs).toEqual(runbookJobs(parseConfig({ target: 'docker' }).backups, 'server'));
    // Every setting any job reads is provided.
    for (const name of new Set(jobs.flatMap((j: any) => j.settings.map((s: any) => s.name)))) expect(env[name as string], name as string).toBeTruthy();
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/postgres:generated\w+@tickvault-dev-timescaledb:5432\/tickvault$/);
    expect(env.S3_ENDPOINT).toBe('http://tickvault-dev-minio:9000');
    const build = one(resources, 'docker:index/remoteImage:RemoteImage', 'tickvault-dev-runbooks-image').inputs as any;
    expect(build.build).toMatchObject({ dockerfile: 'Dockerfile' });
  });

  it('DbObjects wired against the dev PostgreSQL, roles with generated passwords', () => {
    expect(one(resources, 'pulumi:providers:postgresql').inputs).toMatchObject({ host: '127.0.0.1', port: '55432', username: 'postgres', sslmode: 'disable', superuser: 'true' });
    expect(one(resources, 'pulumi:providers:postgresql').dependsOn).toBe(1);
    for (const r of ofType(resources, 'postgresql:index/role:Role')) expect(r.inputs.password, r.name).toMatch(/^generateddb/);
  });

  it('outputs let the runbooks work against dev S3 (endpoint, bucket, region, credentials)', () => {
    expect(outputs.s3).toEqual({ bucket: 'tickvault-backups', endpoint: 'http://127.0.0.1:59000', region: 'us-east-1', accessKeyId: 'tickvault', secretAccessKey: expect.stringMatching(/^generated/) });
    expect(outputs.backupRepo).toBe('s3://tickvault-backups');
    expect(outputs.postgres).toMatchObject({ host: '127.0.0.1', port: 55432 });
    expect(Object.keys(outputs).sort()).toEqual(['backupRepo', 'bucketSetupExitCode', 'envVault', 'postgres', 'qdrant', 'redis', 's3']);
    expect(outputs.bucketSetupExitCode).toBe(0);
  });

  it('satisfies the policy pack', async () => {
    for (const r of resources.filter((x) => x.custom)) {
      const args = createResourceValidationArgs(r.type, r.inputs, { protect: r.protect, name: r.name });
      for (const policy of policies) if ('validateResource' in policy) expect(await resourceViolations(policy, args), `${policy.name} on ${r.name}`).toEqual([]);
    }
  });

  it('config errors name the key', () => {
    expect(() => parseConfig({ target: 'docker', docker: { images: { redis: 'redis:latest' } } })).toThrow(/tickvault:docker\.images\.redis: must be pinned/);
    expect(() => parseConfig({ target: 'aws', aws: { region: 'eu-west-1', vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'], amiId: 'ami-1', runbookImage: 'ghcr.io/x/r:1', breakGlassRoleArn: 'arn:aws:iam::123456789012:role/bg' } })).toThrow(/tickvault:aws\.runbookImage: must be pinned by digest/);
    expect(() => parseConfig({ target: 'nope' })).toThrow(/tickvault:target/);
  });
});
