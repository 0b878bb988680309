import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { retentionRules } from '../components/retention';
import type { TickvaultConfig } from '../config';
import type { StackOutputs } from './outputs';

const BUCKET = 'tickvault-backups';

/** dev: the same stores on one Docker host, pinned images, healthchecks that gate dependants. */
export function dockerStack(config: TickvaultConfig): StackOutputs {
  const d = config.docker ?? { images: {}, ports: {} };
  const images = d.images as Required<NonNullable<TickvaultConfig['docker']>>['images'];
  const ports = d.ports as Required<NonNullable<TickvaultConfig['docker']>>['ports'];
  const provider = new docker.Provider('docker', {});
  const opts = { provider };
  const name = `tickvault-${config.stack}`;
  const labels = Object.entries(config.tags).map(([label, value]) => ({ label, value }));
  const password = config.secrets.dbPassword ?? pulumi.secret('tickvault-dev');
  const redisPassword = config.secrets.redisAuthToken ?? pulumi.secret('tickvault-dev-redis');

  const network = new docker.Network(`${name}-net`, { name: `${name}-net`, labels }, opts);
  const volume = (role: string) => new docker.Volume(`${name}-${role}`, { name: `${name}-${role}`, labels }, { ...opts, protect: true });
  const image = (role: string, ref: string) => new docker.RemoteImage(`${name}-${role}-image`, { name: ref, keepLocally: true }, opts);
  const common = { networksAdvanced: [{ name: network.name }], restart: 'unless-stopped', labels, wait: true, waitTimeout: 180 };

  const pgData = volume('pgdata');
  new docker.Container(`${name}-timescaledb`, {
    ...common,
    name: `${name}-timescaledb`,
    image: image('timescaledb', images.timescaledb).imageId,
    envs: [pulumi.interpolate`POSTGRES_PASSWORD=${password}`, 'POSTGRES_DB=tickvault'],
    ports: [{ internal: 5432, external: ports.postgres }],
    volumes: [{ volumeName: pgData.name, containerPath: '/home/postgres/pgdata' }],
    // Over TCP, so the entrypoint's temporary init server (socket only) cannot pass it.
    healthcheck: { tests: ['CMD-SHELL', 'psql -h 127.0.0.1 -U postgres -d tickvault -c "select 1"'], interval: '5s', timeout: '5s', retries: 20, startPeriod: '10s' },
  }, opts);

  new docker.Container(`${name}-qdrant`, {
    ...common,
    name: `${name}-qdrant`,
    image: image('qdrant', images.qdrant).imageId,
    ports: [{ internal: 6333, external: ports.qdrant }],
    volumes: [{ volumeName: volume('qdrant').name, containerPath: '/qdrant/storage' }],
    healthcheck: { tests: ['CMD-SHELL', 'bash -c ":> /dev/tcp/127.0.0.1/6333"'], interval: '5s', timeout: '3s', retries: 20 },
  }, opts);

  new docker.Container(`${name}-redis`, {
    ...common,
    name: `${name}-redis`,
    image: image('redis', images.redis).imageId,
    command: pulumi.output(redisPassword).apply((pw) => ['redis-server', '--requirepass', String(pw), '--save', '300 10', '--appendonly', 'no']),
    ports: [{ internal: 6379, external: ports.redis }],
    volumes: [{ volumeName: volume('redis').name, containerPath: '/data' }],
    healthcheck: { tests: ['CMD-SHELL', pulumi.interpolate`redis-cli -a '${redisPassword}' --no-auth-warning ping | grep PONG`], interval: '5s', timeout: '3s', retries: 20 },
  }, opts);

  const minio = new docker.Container(`${name}-minio`, {
    ...common,
    name: `${name}-minio`,
    image: image('minio', images.minio).imageId,
    command: ['server', '/data'],
    envs: ['MINIO_ROOT_USER=tickvault', pulumi.interpolate`MINIO_ROOT_PASSWORD=${password}`],
    ports: [{ internal: 9000, external: ports.minio }],
    volumes: [{ volumeName: volume('minio').name, containerPath: '/data' }],
    healthcheck: { tests: ['CMD', 'mc', 'ready', 'local'], interval: '5s', timeout: '3s', retries: 20 },
  }, opts);

  // The same bucket and retention as prod: rules from retentionRules(), applied with mc ILM.
  const rules = retentionRules(config.backups, config.stack);
  const ilm = rules.map((r) => `mc ilm rule add --prefix '${r.prefix}' --expire-days ${r.days} --noncurrent-expire-days ${config.backups.noncurrentVersionDays} local/${BUCKET}`).join(' && ');
  new docker.Container(`${name}-bucket-setup`, {
    name: `${name}-bucket-setup`,
    image: image('mc', images.mc).imageId,
    networksAdvanced: [{ name: network.name }],
    labels,
    mustRun: false,
    restart: 'no',
    entrypoints: ['/bin/sh', '-c'],
    command: [pulumi.interpolate`mc alias set local http://${minio.name}:9000 tickvault '${password}' && mc mb -p local/${BUCKET} && mc version enable local/${BUCKET} && mc ilm rule rm --all --force local/${BUCKET}; ${ilm}`],
  }, { ...opts, dependsOn: [minio] });

  const pgUrl = pulumi.secret(pulumi.interpolate`postgres://postgres:${password}@127.0.0.1:${ports.postgres}/tickvault`);
  return {
    postgres: { host: '127.0.0.1', port: ports.postgres, url: pgUrl },
    redis: { url: pulumi.secret(pulumi.interpolate`redis://default:${redisPassword}@127.0.0.1:${ports.redis}`) },
    qdrant: { url: `http://127.0.0.1:${ports.qdrant}` },
    s3: { bucket: BUCKET, endpoint: `http://127.0.0.1:${ports.minio}` },
    backupRepo: `s3://${BUCKET}`,
    envVault: `s3://${BUCKET}`,
  };
}
