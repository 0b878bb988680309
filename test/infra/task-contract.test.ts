import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TASK_HOME } from '../../infra/components/backup-schedule';
import type { Declared } from '../../infra/mocks';
import { root } from '../helpers/runbook';
import { containers, declareStack, one } from './declare';

/**
 * The contract between prod's task definition and the runbook: run the
 * backup-postgres job's own command with exactly the names the task
 * declares (environment + secrets, plus the image's ENV), mapped to the
 * local stack, and nothing else. It must succeed, and it must read every
 * name it is given: a declared name the runbook ignores is a wiring error
 * (a misspelt secret, a setting the code no longer uses).
 */
const stack = inject('stack');
let resources: Declared[];
let work: string;
let database: string;

/** Names the runbook process read through process.env (enumeration by spawn or by the masker does not count). */
function readRecorder(out: string): string {
  const file = path.join(work, 'record-env-reads.mjs');
  fs.writeFileSync(file, `
import fs from 'node:fs';
// npm's own process (npx) is the launcher, not the runbook: it runs untouched.
const launcher = (process.argv[1] ?? '').split('/').pop() ?? '';
if (!['npx', 'npm', 'npx-cli.js', 'npm-cli.js'].includes(launcher)) {
const real = process.env;
const read = new Set();
// Enumerations (zx's defaults, spawn's env copy, \`{ ...process.env }\`, the masker) read every name: not a use.
// They start with ownKeys and then get each key in order; a get that follows that order is enumeration.
let pending = [];
const enumerating = () => /node:child_process|Settings\\.all/.test(new Error().stack ?? '');
process.env = new Proxy(real, {
  ownKeys(target) {
    const keys = Reflect.ownKeys(target);
    pending = keys.filter((k) => typeof k === 'string');
    return keys;
  },
  get(target, key) {
    if (typeof key === 'string' && key in target) {
      if (pending.length && pending[0] === key) pending.shift();
      else {
        pending = [];
        if (!enumerating()) read.add(key);
      }
    }
    return Reflect.get(target, key);
  },
});
process.on('exit', () => fs.writeFileSync(${JSON.stringify(out)} + '.' + process.pid, JSON.stringify([...read])));
}
`);
  return file;
}

/** ENV names the runbook image sets (Dockerfile): part of what the container sees. */
const imageEnv = (): Record<string, string> => Object.fromEntries([...fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8').matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

/** What the contract forbids: names declared to the container that the run never read. */
export const unreadNames = (declared: string[], read: string[]): string[] => declared.filter((n) => !read.includes(n));

beforeAll(async () => {
  ({ resources } = await declareStack('prod'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tickvault-contract-'));
  database = `contract_${process.pid}`;
  const psql = (db: string, sql: string) => spawnSync('psql', [stack.postgresUrl.replace(/\/[^/?]+(\?|$)/, `/${db}$1`), '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8' });
  const created = psql('postgres', `CREATE DATABASE ${database}`);
  expect(created.status, created.stderr).toBe(0);
  const filled = psql(database, 'CREATE TABLE ticks (id bigint PRIMARY KEY, symbol text, price numeric, ts timestamptz NOT NULL); INSERT INTO ticks SELECT g, $$S$$ || (g % 7), g * 1.5, now() - g * interval $$1 second$$ FROM generate_series(1, 500) g');
  expect(filled.status, filled.stderr).toBe(0);
});

afterAll(() => {
  for (const db of [database, `${database}_drill`]) spawnSync('psql', [stack.postgresUrl.replace(/\/[^/?]+(\?|$)/, '/postgres$1'), '-qc', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const psqlValue = (db: string, sql: string) => spawnSync('psql', [stack.postgresUrl.replace(/\/[^/?]+(\?|$)/, `/${db}$1`), '-XAtqc', sql], { encoding: 'utf8' }).stdout.trim();

describe('prod task definitions ↔ runbook contract', () => {
  it('backup, verify, prune and the restore drill run as their tasks declare them, succeed, and read every declared name', async () => {
    const repo = path.join(work, 'repo');
    const metrics = path.join(work, 'metrics.jsonl');
    const home = path.join(work, 'home');
    fs.mkdirSync(home, { recursive: true });
    const urlOf = (db: string) => stack.postgresUrl.replace(/\/[^/?]+(\?|$)/, `/${db}$1`);

    for (const job of ['backup-postgres', 'verify-postgres', 'prune', 'drill-restore']) {
      const container = containers(one(resources, 'aws:ecs/taskDefinition:TaskDefinition', `backup-${job}`))[0];
      const declared: Record<string, string> = Object.fromEntries([
        ...container.environment.map((e: any) => [e.name, e.value]),
        ...container.secrets.map((s: any) => [s.name, s.valueFrom]),
        ...Object.entries(imageEnv()),
      ]);
      expect(declared.TICKVAULT_HOME).toBe(TASK_HOME);
      // Each declared name mapped to the local stack; a name with no mapping fails here, loudly.
      const localValue: Record<string, string> = {
        DATABASE_URL: urlOf(database),
        SCRATCH_DATABASE_URL: urlOf(`${database}_drill`),
        BACKUP_REPO: `file://${repo}`,
        TICKVAULT_ENV: declared.TICKVAULT_ENV ?? '',
        TICKVAULT_METRICS: `file://${metrics}`,
        TICKVAULT_RETENTION_DAYS: declared.TICKVAULT_RETENTION_DAYS ?? '',
        TICKVAULT_HOME: path.join(work, 'tickvault-home'),
      };
      const env: Record<string, string> = {};
      for (const name of Object.keys(declared)) {
        expect(localValue[name], `${job}: no local mapping for declared name ${name}`).toBeTruthy();
        env[name] = localValue[name]!;
      }
      // The container's own argv (entrypoint + command). Besides the declared names only PATH,
      // HOME and the recorder (NODE_OPTIONS). CONTRACT_PROBE is never read: it proves the recorder discriminates.
      const reads = path.join(work, `reads-${job}`);
      const argv = [...(container.entryPoint ?? ['npx', 'tsx']), ...container.command] as string[];
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd: root,
        env: { PATH: process.env.PATH!, HOME: home, NODE_OPTIONS: `--import ${readRecorder(reads)}`, CONTRACT_PROBE: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
      expect(code, `${job}:\n${stderr}\n${stdout}`).toBe(0);
      const summary = stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).findLast((e) => e.event === 'summary');
      expect(summary, job).toMatchObject({ ok: true });

      const read = new Set(fs.readdirSync(work).filter((f) => f.startsWith(`reads-${job}.`)).flatMap((f) => JSON.parse(fs.readFileSync(path.join(work, f), 'utf8')) as string[]));
      const script = container.entryPoint ? container.command.join('\n') : '';
      for (const name of Object.keys(declared)) if (script.includes(`$${name}`) || script.includes(`\${${name}`)) read.add(name);
      expect(unreadNames(Object.keys(declared), [...read]), job).toEqual([]);
      expect(read.has('CONTRACT_PROBE'), job).toBe(false);
    }

    // Independent checks: pg_restore reads the dump; the drill's scratch copy has the same rows; freshness was published.
    const toc = fs.readdirSync(repo, { recursive: true, encoding: 'utf8' }).find((f) => f.endsWith('toc.dat'));
    expect(toc, 'a pg_dump directory in the repository').toBeDefined();
    const list = spawnSync('pg_restore', ['--list', path.dirname(path.join(repo, toc!))], { encoding: 'utf8' });
    expect(list.stdout).toMatch(/TABLE DATA public ticks/);
    const hash = "SELECT count(*) || ':' || md5(string_agg(id || ',' || symbol || ',' || price, ';' ORDER BY id)) FROM ticks";
    expect(psqlValue(`${database}_drill`, hash)).toBe(psqlValue(database, hash));
    expect(psqlValue(database, hash)).toMatch(/^500:/);
    const published = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(published.filter((p) => p.store === 'postgres').length).toBeGreaterThanOrEqual(3); // backup, verify, prune
    expect(published.at(-1)).toMatchObject({ metric: 'NewestGoodBackupAgeHours', env: 'prod', store: 'postgres' });
    expect(published.at(-1).ageHours).toBeLessThan(1);
  });

  it('the check itself can fail: a declared name the run never reads is reported', () => {
    expect(unreadNames(['DATABASE_URL', 'REDIS_URL'], ['DATABASE_URL'])).toEqual(['REDIS_URL']);
  });

  it('every job declares only names the runbooks read somewhere (static check, the other jobs included)', () => {
    const sources = fs.readdirSync(path.join(root, 'runbooks'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => fs.readFileSync(path.join(root, 'runbooks', f), 'utf8')).join('\n');
    for (const t of resources.filter((r) => r.type === 'aws:ecs/taskDefinition:TaskDefinition')) {
      const c = containers(t)[0];
      const script = c.entryPoint ? c.command.join(' ') : '';
      for (const name of [...c.environment, ...c.secrets].map((x: any) => x.name)) {
        const readByCode = new RegExp(`['"\`]${name}['"\`]|process\\.env\\.${name}\\b`).test(sources);
        expect(readByCode || script.includes(`$${name}`) || script.includes(`\${${name}`), `${t.name}: ${name}`).toBe(true);
      }
    }
  });
});
