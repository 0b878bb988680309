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
process.on('exit', () => fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify([...read])));
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
  const filled = psql(database, 'CREATE TABLE ticks (id bigint PRIMARY KEY, symbol text, price numeric); INSERT INTO ticks SELECT g, $$S$$ || (g % 7), g * 1.5 FROM generate_series(1, 500) g');
  expect(filled.status, filled.stderr).toBe(0);
});

afterAll(() => {
  spawnSync('psql', [stack.postgresUrl.replace(/\/[^/?]+(\?|$)/, '/postgres$1'), '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('prod task definition ↔ runbook contract', () => {
  it('backup-postgres runs with exactly the declared environment and secrets, succeeds, and reads every name', async () => {
    const container = containers(one(resources, 'aws:ecs/taskDefinition:TaskDefinition', 'backup-backup-postgres'))[0];
    const declared: Record<string, string> = Object.fromEntries([
      ...container.environment.map((e: any) => [e.name, e.value]),
      ...container.secrets.map((s: any) => [s.name, s.valueFrom]),
      ...Object.entries(imageEnv()),
    ]);
    expect(declared.TICKVAULT_HOME).toBe(TASK_HOME);

    // Each declared name mapped to the local stack; a name with no mapping fails here, loudly.
    const repo = path.join(work, 'repo');
    const metrics = path.join(work, 'metrics.jsonl');
    const localValue: Record<string, string> = {
      DATABASE_URL: stack.postgresUrl.replace(/\/[^/?]+(\?|$)/, `/${database}$1`),
      BACKUP_REPO: `file://${repo}`,
      TICKVAULT_ENV: declared.TICKVAULT_ENV!,
      TICKVAULT_METRICS: `file://${metrics}`,
      TICKVAULT_HOME: path.join(work, 'home'),
    };
    const env: Record<string, string> = {};
    for (const name of Object.keys(declared)) {
      expect(localValue[name], `no local mapping for declared name ${name}`).toBeDefined();
      env[name] = localValue[name]!;
    }
    // Only what any container has besides its declared names: a PATH and a HOME.
    const readsFile = path.join(work, 'reads.json');
    const [entry, ...args] = container.command as string[];
    const child = spawn(process.execPath, ['--import', readRecorder(readsFile), '--import', 'tsx', entry!, ...args], {
      cwd: root,
      // CONTRACT_PROBE: never read by the runbook; proves the recorder does not count every name.
      env: { PATH: process.env.PATH!, HOME: path.join(work, 'home'), CONTRACT_PROBE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    expect(code, `${stderr}\n${stdout}`).toBe(0);
    const summary = stdout.trim().split('\n').map((l) => JSON.parse(l)).findLast((e) => e.event === 'summary');
    expect(summary).toMatchObject({ ok: true });

    const read: string[] = JSON.parse(fs.readFileSync(readsFile, 'utf8'));
    expect(unreadNames(Object.keys(declared), read)).toEqual([]);
    expect(read).not.toContain('CONTRACT_PROBE');

    // Independent checks: pg_restore reads the dump; the freshness metric was published for postgres.
    const toc = fs.readdirSync(repo, { recursive: true, encoding: 'utf8' }).find((f) => f.endsWith('toc.dat'));
    expect(toc, 'a pg_dump directory in the repository').toBeDefined();
    const list = spawnSync('pg_restore', ['--list', path.dirname(path.join(repo, toc!))], { encoding: 'utf8' });
    expect(list.stdout).toMatch(/TABLE DATA public ticks/);
    const published = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(published).toContainEqual(expect.objectContaining({ metric: 'NewestGoodBackupAgeHours', env: 'prod', store: 'postgres' }));
    expect(published.find((p) => p.store === 'postgres').ageHours).toBeLessThan(1);
  });

  it('the check itself can fail: a declared name the run never reads is reported', () => {
    expect(unreadNames(['DATABASE_URL', 'REDIS_URL'], ['DATABASE_URL'])).toEqual(['REDIS_URL']);
  });

  it('every job declares only names the runbooks read somewhere (static check for the jobs not run here)', () => {
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
