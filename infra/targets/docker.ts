import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { DbObjects } from '../components/db-objects';
import { generatedPassword } from '../components/store-secrets';
import type { TickvaultConfig } from '../config';
import { runbookJobs } from '../jobs';
import { projectRoot } from '../paths';
import type { StackOutputs } from './outputs';

export const BUCKET = 'tickvault-backups';
export const MINIO_USER = 'tickvault';
/** Every published port listens here only: nothing in dev is reachable from the network. */
export const LOOPBACK = '127.0.0.1';

/** Fail the update when a one-shot container exits non-zero (Docker itself does not). */
export function requireExitZero(container: docker.Container, what: string): pulumi.Output<number> {
  return container.exitCode.apply((code) => {
    if (code !== undefined && code !== null && code !== 0) throw new Error(`${what} exited with code ${code}; see \`docker logs ${what}\``);
    return code;
  });
}

/**
 * dev: the same stores on one Docker host: pinned images, generated
 * passwords, ports on 127.0.0.1 only, healthchecks that gate dependants,
 * the same bucket rules as prod, the same scheduled runbook jobs, and
 * DbObjects against its PostgreSQL.
 */
export function dockerStack(config: TickvaultConfig): StackOutputs {
  const d = config.docker ?? { images: {}, ports: {} };
  const images = d.images as Required<NonNullable<TickvaultConfig['docker']>>['images'];
  const ports = d.ports as Required<NonNullable<TickvaultConfig['docker']>>['ports'];
  const provider = new docker.Provider('docker', {});
  const opts = { provider };
  const name = `tickvault-${config.stack}`;
  const env = config.stack;
  const labels = Object.entries(config.tags).map(([label, value]) => ({ label, value }));
  const password = generatedPassword(`${name}-postgres-password`, 32).result;
  const redisPassword = generatedPassword(`${name}-redis-password`, 32).result;
  const minioPassword = generatedPassword(`${name}-minio-password`, 32).result;
  const qdrantKey = generatedPassword(`${name}-qdrant-api-key`, 32).result;

  const network = new docker.Network(`${name}-net`, { name: `${name}-net`, labels }, opts);
  // retainOnDelete, not protect: `pulumi destroy` works in dev, and the data volumes survive it.
  const volume = (role: string) => new docker.Volume(`${name}-${role}`, { name: `${name}-${role}`, labels }, { ...opts, retainOnDelete: true, aliases: [{ name: `${name}-${role}` }] });
  const image = (role: string, ref: string) => new docker.RemoteImage(`${name}-${role}-image`, { name: ref, keepLocally: true }, opts);
  const common = { networksAdvanced: [{ name: network.name }], restart: 'unless-stopped', labels, wait: true, waitTimeout: 180 };
  const port = (internal: number, external: number) => [{ internal, external, ip: LOOPBACK }];

  const pgData = volume('pgdata');
  const postgres = new docker.Container(`${name}-timescaledb`, {
    ...common,
    name: `${name}-timescaledb`,
    image: image('timescaledb', images.timescaledb).imageId,
    envs: [pulumi.interpolate`POSTGRES_PASSWORD=${password}`, 'POSTGRES_DB=tickvault'],
    ports: port(5432, ports.postgres),
    volumes: [{ volumeName: pgData.name, containerPath: '/home/postgres/pgdata' }],
    // Over TCP, so the entrypoint's temporary init server (socket only) cannot pass it.
    healthcheck: { tests: ['CMD-SHELL', 'psql -h 127.0.0.1 -U postgres -d tickvault -c "select 1"'], interval: '5s', timeout: '5s', retries: 20, startPeriod: '10s' },
  }, opts);

  const qdrant = new docker.Container(`${name}-qdrant`, {
    ...common,
    name: `${name}-qdrant`,
    image: image('qdrant', images.qdrant).imageId,
    envs: [pulumi.interpolate`QDRANT__SERVICE__API_KEY=${qdrantKey}`],
    ports: port(6333, ports.qdrant),
    volumes: [{ volumeName: volume('qdrant').name, containerPath: '/qdrant/storage' }],
    healthcheck: { tests: ['CMD-SHELL', 'bash -c ":> /dev/tcp/127.0.0.1/6333"'], interval: '5s', timeout: '3s', retries: 20 },
  }, opts);

  const redis = new docker.Container(`${name}-redis`, {
    ...common,
    name: `${name}-redis`,
    image: image('redis', images.redis).imageId,
    // The password reaches redis-server through its env, never its argv (visible in `ps`).
    envs: [pulumi.interpolate`REDISCLI_AUTH=${redisPassword}`],
    entrypoints: ['sh', '-c'],
    command: ['exec redis-server --requirepass "$REDISCLI_AUTH" --save "300 10" --appendonly no'],
    ports: port(6379, ports.redis),
    volumes: [{ volumeName: volume('redis').name, containerPath: '/data' }],
    healthcheck: { tests: ['CMD-SHELL', 'redis-cli ping | grep PONG'], interval: '5s', timeout: '3s', retries: 20 },
  }, opts);

  const minio = new docker.Container(`${name}-minio`, {
    ...common,
    name: `${name}-minio`,
    image: image('minio', images.minio).imageId,
    command: ['server', '/data'],
    envs: [`MINIO_ROOT_USER=${MINIO_USER}`, pulumi.interpolate`MINIO_ROOT_PASSWORD=${minioPassword}`],
    ports: port(9000, ports.minio),
    volumes: [{ volumeName: volume('minio').name, containerPath: '/data' }],
    healthcheck: { tests: ['CMD', 'mc', 'ready', 'local'], interval: '5s', timeout: '3s', retries: 20 },
  }, opts);

  // The same bucket and lifecycle policy as prod: versioned; only noncurrent versions under <env>/ expire.
  const setupName = `${name}-bucket-setup`;
  const bucketSetup = new docker.Container(setupName, {
    name: setupName,
    image: image('mc', images.mc).imageId,
    networksAdvanced: [{ name: network.name }],
    labels,
    mustRun: false,
    attach: true,
    logs: true,
    restart: 'no',
    envs: [pulumi.interpolate`MC_HOST_local=http://${MINIO_USER}:${minioPassword}@${minio.name}:9000`],
    entrypoints: ['/bin/sh', '-c'],
    command: [[
      'set -e',
      `mc mb -p local/${BUCKET}`,
      `mc version enable local/${BUCKET}`,
      `mc ilm rule rm --all --force local/${BUCKET} || true`,
      `mc ilm rule add --prefix '${env}/' --noncurrent-expire-days ${config.backups.noncurrentVersionDays} local/${BUCKET}`,
    ].join('\n')],
  }, { ...opts, dependsOn: [minio] });
  const bucket = BUCKET;

  new DbObjects('db', {
    host: LOOPBACK, port: ports.postgres, database: 'tickvault', username: 'postgres', password, sslmode: 'disable',
    schemas: config.dbObjects?.schemas ?? ['market', 'trading'], timescaledb: true, superuser: true,
  }, { dependsOn: [postgres] });

  // The scheduler runs prod's job list against the dev stores, with the runbook image built from this checkout.
  const runbooks = new docker.RemoteImage(`${name}-runbooks-image`, {
    name: `tickvault-runbooks:${env}`,
    build: { context: projectRoot, dockerfile: 'Dockerfile' },
    keepLocally: true,
  }, opts);
  const inNetwork = (container: docker.Container, port: number) => pulumi.interpolate`${container.name}:${port}`;
  const jobs = runbookJobs(config.backups, 'server');
  const schedulerEnv: pulumi.Input<string>[] = [
    `TICKVAULT_JOBS=${JSON.stringify(jobs)}`,
    `TICKVAULT_ENV=${env}`,
    `BACKUP_REPO=s3://${BUCKET}`,
    'TICKVAULT_METRICS=file:///var/lib/tickvault/metrics.jsonl',
    `TICKVAULT_RETENTION_DAYS=${config.backups.postgres.retentionDays}`,
    pulumi.interpolate`S3_ENDPOINT=http://${inNetwork(minio, 9000)}`,
    'AWS_REGION=us-east-1',
    `AWS_ACCESS_KEY_ID=${MINIO_USER}`,
    pulumi.interpolate`AWS_SECRET_ACCESS_KEY=${minioPassword}`,
    pulumi.interpolate`DATABASE_URL=postgres://postgres:${password}@${inNetwork(postgres, 5432)}/tickvault`,
    pulumi.interpolate`SCRATCH_DATABASE_URL=postgres://postgres:${password}@${inNetwork(postgres, 5432)}/tickvault_drill`,
    pulumi.interpolate`REDIS_URL=redis://default:${redisPassword}@${inNetwork(redis, 6379)}`,
    pulumi.interpolate`QDRANT_URL=http://${inNetwork(qdrant, 6333)}`,
    pulumi.interpolate`QDRANT_API_KEY=${qdrantKey}`,
  ];
  new docker.Container(`${name}-scheduler`, {
    name: `${name}-scheduler`,
    image: runbooks.imageId,
    networksAdvanced: [{ name: network.name }],
    labels,
    restart: 'unless-stopped',
    envs: schedulerEnv,
    command: ['infra/scheduler/dev-scheduler.ts'],
  }, { ...opts, dependsOn: [postgres, redis, qdrant, bucketSetup] });

  const pgUrl = pulumi.secret(pulumi.interpolate`postgres://postgres:${password}@${LOOPBACK}:${ports.postgres}/tickvault`);
  return {
    postgres: { host: LOOPBACK, port: ports.postgres, url: pgUrl },
    redis: { url: pulumi.secret(pulumi.interpolate`redis://default:${redisPassword}@${LOOPBACK}:${ports.redis}`) },
    qdrant: { url: `http://${LOOPBACK}:${ports.qdrant}` },
    s3: { bucket, endpoint: `http://${LOOPBACK}:${ports.minio}`, region: 'us-east-1', accessKeyId: MINIO_USER, secretAccessKey: pulumi.secret(minioPassword) },
    backupRepo: pulumi.interpolate`s3://${bucket}`,
    envVault: pulumi.interpolate`s3://${bucket}`,
    // Exported so the update waits for it, and fails when the job did.
    bucketSetupExitCode: requireExitZero(bucketSetup, setupName),
  };
}
