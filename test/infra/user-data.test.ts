import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qdrantUserData, timescaleUserData, type HostPaths } from '../../infra/components/user-data';

/**
 * The hosts' boot scripts, checked by shellcheck and run for real by bash
 * against stub commands (dnf, docker, mount, blkid, aws, …) that record
 * their calls: the order of what happens at first boot and at a reboot.
 */
const SECRET = 's3cr3t-from-secrets-manager';
const UUID = '5f1c1d2e-0000-4a4a-9b9b-123456789abc';

const STUBS: Record<string, string> = {
  udevadm: '',
  // `blkid DEV` fails until mkfs.ext4 made a filesystem; `blkid -s UUID -o value DEV` prints it.
  blkid: `if [ "$1" = "-s" ]; then [ -f "$STATE/formatted" ] && echo ${UUID}; exit 0; fi; [ -f "$STATE/formatted" ] || exit 2`,
  'mkfs.ext4': 'touch "$STATE/formatted"',
  mountpoint: '[ -f "$STATE/mounted" ]',
  mount: 'touch "$STATE/mounted"',
  dnf: '',
  systemctl: '',
  chown: '',
  aws: `echo ${SECRET}`,
  openssl: 'while [ $# -gt 0 ]; do case "$1" in -keyout|-out) touch "$2"; shift;; esac; shift; done',
  curl: 'case "$*" in *api/token*) echo tok;; *local-ipv4*) echo 10.0.1.20;; esac',
  sleep: '',
  docker: [
    'case "$1" in',
    '  container) [ -f "$STATE/container" ];;',
    '  run) touch "$STATE/container"; while [ $# -gt 0 ]; do [ "$1" = "--env-file" ] && cp "$2" "$STATE/env-file"; shift; done;;',
    'esac',
  ].join('\n'),
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickvault-userdata-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const timescale = (paths?: HostPaths) =>
  timescaleUserData({ region: 'eu-west-1', logGroup: '/tickvault/timescale', secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:db', secretEnvName: 'POSTGRES_PASSWORD', owner: '1000:1000', dataDir: 'postgres', image: 'timescale/timescaledb-ha:pg15.18-ts2.28.3-all', bucket: 'backups-0a1b', stanza: 'tickvault', retentionFullDays: 30 }, paths);
const qdrant = (paths?: HostPaths) =>
  qdrantUserData({ region: 'eu-west-1', logGroup: '/tickvault/qdrant', secretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:qdrant', secretEnvName: 'QDRANT__SERVICE__API_KEY', owner: '0:0', dataDir: 'qdrant', image: 'qdrant/qdrant:v1.12.4' }, paths);

/** A fake host: stubs first on PATH, real bash/coreutils after; every stub call logged. */
function fakeHost(name: string) {
  const root = path.join(dir, name);
  const bin = path.join(root, 'bin');
  const state = path.join(root, 'state');
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(state, { recursive: true });
  for (const [cmd, body] of Object.entries(STUBS)) {
    fs.writeFileSync(path.join(bin, cmd), `#!/bin/bash\necho "${cmd} $*" >> "$STATE/calls"\n${body}\n`, { mode: 0o755 });
  }
  const paths: HostPaths = { device: '/dev/sdf', mountPoint: path.join(root, 'data'), fstab: path.join(root, 'fstab'), runDir: path.join(root, 'run') };
  fs.writeFileSync(paths.fstab, '# fstab\n');
  const boot = (script: string) => {
    const file = path.join(root, 'user-data.sh');
    fs.writeFileSync(file, script, { mode: 0o700 });
    const result = spawnSync('bash', [file], { env: { PATH: `${bin}:/usr/bin:/bin`, STATE: state }, encoding: 'utf8', timeout: 30_000 });
    const calls = fs.readFileSync(path.join(state, 'calls'), 'utf8').trim().split('\n');
    fs.rmSync(path.join(state, 'calls'));
    return { ...result, calls };
  };
  return { root, state, paths, boot };
}

const indexOf = (calls: string[], pattern: RegExp): number => {
  const i = calls.findIndex((c) => pattern.test(c));
  if (i < 0) throw new Error(`no call matching ${pattern}:\n${calls.join('\n')}`);
  return i;
};
const inOrder = (calls: string[], patterns: RegExp[]) => {
  const positions = patterns.map((p) => indexOf(calls, p));
  expect(positions, patterns.map(String).join(' < ')).toEqual([...positions].sort((a, b) => a - b));
};

describe('host user data', () => {
  it('passes shellcheck (both hosts, as rendered for AWS)', () => {
    for (const [name, script] of [['timescale', timescale()], ['qdrant', qdrant()]] as const) {
      const file = path.join(dir, `${name}.sh`);
      fs.writeFileSync(file, script);
      const out = spawnSync('shellcheck', ['--severity=style', '--shell=bash', file], { encoding: 'utf8' });
      expect(out.status, `${name}:\n${out.stdout}${out.stderr}`).toBe(0);
    }
    expect(execFileSync('shellcheck', ['--version'], { encoding: 'utf8' })).toMatch(/version/);
  });

  it('TimescaleDB first boot: volume by UUID, Docker, ownership, secret from Secrets Manager, WAL archiving, TLS, stanza-create then check', () => {
    const host = fakeHost('timescale');
    const first = host.boot(timescale(host.paths));
    expect(first.status, first.stderr).toBe(0);
    const c = first.calls;
    inOrder(c, [/^udevadm settle/, /^blkid \/dev\/sdf$/, /^mkfs\.ext4 .*\/dev\/sdf/, /^blkid -s UUID/, /^mount .*\/data$/, /^dnf install -y docker/, /^systemctl enable --now docker/, /^chown -R 1000:1000 .*\/data\/postgres$/, /^aws secretsmanager get-secret-value .*secret:db/, /^openssl req -x509/, /^docker run /, /^docker exec timescaledb pg_isready/, /stanza-create$/, /pgbackrest --stanza=tickvault check$/]);
    expect(fs.readFileSync(host.paths.fstab, 'utf8')).toContain(`UUID=${UUID} ${host.paths.mountPoint} ext4 defaults,nofail 0 2`);
    const run = c.find((x) => x.startsWith('docker run '))!;
    for (const arg of ['--log-driver awslogs', 'awslogs-group=/tickvault/timescale', 'archive_mode=on', 'archive_command=pgbackrest --stanza=tickvault archive-push %p', 'ssl=on', 'ssl_cert_file=', `${host.paths.mountPoint}/postgres:/home/postgres/pgdata`, 'timescale/timescaledb-ha:pg15.18-ts2.28.3-all']) expect(run).toContain(arg);
    // The password reached the container through an env file, never argv, and the file is gone.
    expect(c.join('\n')).not.toContain(SECRET);
    const env = fs.readFileSync(path.join(host.state, 'env-file'), 'utf8');
    for (const line of [`POSTGRES_PASSWORD=${SECRET}`, 'POSTGRES_DB=tickvault', 'PGBACKREST_REPO1_S3_BUCKET=backups-0a1b', 'PGBACKREST_REPO1_S3_ENDPOINT=s3.eu-west-1.amazonaws.com', 'PGBACKREST_REPO1_S3_REGION=eu-west-1', 'PGBACKREST_REPO1_PATH=/pgbackrest', 'PGBACKREST_PG1_PATH=/home/postgres/pgdata/data']) expect(env).toContain(line);
    expect(fs.existsSync(path.join(host.paths.runDir, 'container.env'))).toBe(false);
    expect(fs.statSync(path.join(host.paths.mountPoint, 'postgres', 'tls', 'server.key')).mode & 0o077).toBe(0);

    // A reboot that re-runs the script: no mkfs over the data, no second fstab line, no second container.
    fs.rmSync(path.join(host.state, 'mounted'));
    const again = host.boot(timescale(host.paths));
    expect(again.status, again.stderr).toBe(0);
    expect(again.calls.some((x) => x.startsWith('mkfs'))).toBe(false);
    expect(again.calls.some((x) => x.startsWith('docker run'))).toBe(false);
    expect(fs.readFileSync(host.paths.fstab, 'utf8').match(/UUID=/g)).toHaveLength(1);
  });

  it('stops at the first failure (set -e): a failed secret read starts no container', () => {
    const host = fakeHost('timescale-fail');
    fs.writeFileSync(path.join(host.root, 'bin', 'aws'), '#!/bin/bash\necho "aws $*" >> "$STATE/calls"\nexit 255\n', { mode: 0o755 });
    const result = host.boot(timescale(host.paths));
    expect(result.status).not.toBe(0);
    expect(result.calls.some((x) => x.startsWith('docker run'))).toBe(false);
  });

  it('Qdrant: API key from Secrets Manager, published on the private address only', () => {
    const host = fakeHost('qdrant');
    const result = host.boot(qdrant(host.paths));
    expect(result.status, result.stderr).toBe(0);
    inOrder(result.calls, [/^blkid -s UUID/, /^mount /, /^dnf install -y docker/, /^aws secretsmanager get-secret-value .*secret:qdrant/, /^curl .*api\/token/, /^docker run /]);
    const run = result.calls.find((x) => x.startsWith('docker run '))!;
    expect(run).toContain('-p 10.0.1.20:6333:6333');
    expect(run).not.toMatch(/-p 6333/);
    expect(fs.readFileSync(path.join(host.state, 'env-file'), 'utf8')).toBe(`QDRANT__SERVICE__API_KEY=${SECRET}\n`);
  });
});
