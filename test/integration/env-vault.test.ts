import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runRunbook } from '../helpers/runbook';

const SECRET_DB = 'S3cret-Db-Pass';
const SECRET_TOKEN = 'tok_live_9f8e7d6c';
const ORIGINAL = `# api service (Railway)\nDATABASE_URL=postgres://app:${SECRET_DB}@db:5432/app\nexport API_TOKEN="${SECRET_TOKEN} #x"\n\nLOG_LEVEL=info # inline comment\nEMPTY=\n`;

let dir: string;
let env: Record<string, string>;
let dotenv: string;

function allText(...parts: string[]): string {
  const audit = path.join(dir, 'home', 'audit');
  const logs = fs.existsSync(audit) ? fs.readdirSync(audit, { recursive: true }).filter((f) => String(f).endsWith('.jsonl')).map((f) => fs.readFileSync(path.join(audit, String(f)), 'utf8')) : [];
  return [...parts, ...logs].join('\n');
}

const vaultBytes = () =>
  fs
    .readdirSync(path.join(dir, 'vault'), { recursive: true })
    .map((f) => path.join(dir, 'vault', String(f)))
    .filter((f) => fs.statSync(f).isFile())
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-env-'));
  dotenv = path.join(dir, '.env');
  fs.writeFileSync(dotenv, ORIGINAL);
  env = { TICKVAULT_HOME: path.join(dir, 'home'), BACKUP_REPO: `file://${path.join(dir, 'vault')}`, TICKVAULT_ENV_KEY_FILE: path.join(dir, 'home', 'vault.key') };
});

const snapshot = (extra: string[] = []) => runRunbook('env', ['snapshot', '--service', 'api', '--from', `dotenv:${dotenv}`, '--message', 'pre-migration', '--json', ...extra], { env });

describe('environment vault', () => {
  it('snapshot, change, restore: the diff is shown first and the file comes back byte for byte', async () => {
    expect((await snapshot()).code).toBe(0);
    expect(fs.statSync(env.TICKVAULT_ENV_KEY_FILE!).mode & 0o777).toBe(0o600);
    fs.writeFileSync(dotenv, ORIGINAL.replace(SECRET_DB, 'changed-pass').replace('LOG_LEVEL=info', 'LOG_LEVEL=debug') + 'ADDED_LATER=1\n');
    const restore = await runRunbook('env', ['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--prune', '--yes', '--json'], { env });
    expect(restore.code, restore.stdout).toBe(0);
    const diffAt = restore.events.findIndex((e) => e.event === 'info' && String(e.message).startsWith('~ DATABASE_URL'));
    const writeAt = restore.events.findIndex((e) => e.event === 'start' && e.step === `write dotenv:${dotenv}`);
    expect(diffAt).toBeGreaterThan(-1);
    expect(diffAt).toBeLessThan(writeAt);
    expect(restore.summary).toMatchObject({ changed: true, exact: true });
    expect(fs.readFileSync(dotenv, 'utf8')).toBe(ORIGINAL);
  });

  it('restore asks first: without a terminal and without --yes it refuses and writes nothing', async () => {
    await snapshot();
    fs.writeFileSync(dotenv, 'DATABASE_URL=x\n');
    const refused = await runRunbook('env', ['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--json'], { env });
    expect(refused.code).toBe(4);
    expect(fs.readFileSync(dotenv, 'utf8')).toBe('DATABASE_URL=x\n');
  });

  it('the same restore twice changes nothing the second time, and records no new version', async () => {
    await snapshot();
    fs.writeFileSync(dotenv, ORIGINAL.replace('LOG_LEVEL=info', 'LOG_LEVEL=warn'));
    const args = ['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--yes', '--json'];
    expect((await runRunbook('env', args, { env })).summary).toMatchObject({ changed: true });
    const bytes = fs.readFileSync(dotenv);
    const again = await runRunbook('env', args, { env });
    expect(again.summary).toMatchObject({ changed: false });
    expect(fs.readFileSync(dotenv).equals(bytes)).toBe(true);
    const list = await runRunbook('env', ['list', '--service', 'api', '--json'], { env });
    expect((list.summary!.versions as { kind: string }[]).map((v) => v.kind)).toEqual(['snapshot', 'restore']);
  });

  it('keys added after the snapshot are reported and kept without --prune', async () => {
    await snapshot();
    fs.appendFileSync(dotenv, 'FEATURE_FLAG=on\n');
    fs.writeFileSync(dotenv, fs.readFileSync(dotenv, 'utf8').replace('LOG_LEVEL=info', 'LOG_LEVEL=trace'));
    const restore = await runRunbook('env', ['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--yes', '--json'], { env });
    expect(restore.summary).toMatchObject({ extras: ['FEATURE_FLAG'], exact: false });
    const text = fs.readFileSync(dotenv, 'utf8');
    expect(text).toContain('FEATURE_FLAG=on');
    expect(text).toContain('LOG_LEVEL=info # inline comment');
  });

  it('no secret value appears in the stored bytes, any output, or the audit log', async () => {
    const runs = [await snapshot(), await runRunbook('env', ['snapshot', '--service', 'api', '--from', `dotenv:${dotenv}`], { env })];
    fs.writeFileSync(dotenv, ORIGINAL.replace('LOG_LEVEL=info', 'LOG_LEVEL=debug'));
    const differs = await runRunbook('env', ['diff', '--service', 'api', '1', `live:dotenv:${dotenv}`, '--json'], { env });
    // Like verify.ts: "they differ" is exit 3.
    expect(differs.code, differs.stdout).toBe(3);
    expect(differs.summary).toMatchObject({ changed: ['LOG_LEVEL'] });
    runs.push({ ...differs, code: 0 });
    runs.push(await runRunbook('env', ['diff', '--service', 'api', '1', '2'], { env }));
    runs.push(await runRunbook('env', ['show', '--service', 'api', '--version', 'latest', '--json'], { env }));
    runs.push(await runRunbook('env', ['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--yes'], { env }));
    runs.push(await runRunbook('env', ['list', '--service', 'api'], { env }));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const text = allText(vaultBytes(), ...runs.flatMap((r) => [r.stdout, r.stderr]));
    for (const secret of [SECRET_DB, SECRET_TOKEN, 'postgres://app']) expect(text).not.toContain(secret);
    expect(vaultBytes()).toContain('"DATABASE_URL"'); // keys stay readable
  });

  it('export prints values only when asked (--reveal), and never into the audit log', async () => {
    await snapshot();
    const refused = await runRunbook('env', ['export', '--service', 'api', '--version', '1', '--format', 'dotenv'], { env });
    expect(refused.code).toBe(2);
    const shown = await runRunbook('env', ['export', '--service', 'api', '--version', '1', '--format', 'shell', '--reveal'], { env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`export API_TOKEN='${SECRET_TOKEN} #x'`);
    expect(allText()).not.toContain(SECRET_TOKEN);
    const json = await runRunbook('env', ['export', '--service', 'api', '--version', '1', '--format', 'json', '--out', path.join(dir, 'out.json'), '--json'], { env });
    expect(json.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out.json'), 'utf8'))).toMatchObject({ LOG_LEVEL: 'info', EMPTY: '' });
    expect(fs.statSync(path.join(dir, 'out.json')).mode & 0o777).toBe(0o600);
  });

  it('a tampered version is refused (exit 3); a wrong or missing key is exit 2', async () => {
    await snapshot();
    const file = path.join(dir, 'vault', 'env', 'api', fs.readdirSync(path.join(dir, 'vault', 'env', 'api'))[0]!);
    const original = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, original.replace('"pre-migration"', '"innocent"'));
    expect((await runRunbook('env', ['show', '--service', 'api', '--version', '1', '--json'], { env })).code).toBe(3);
    const sealed = JSON.parse(original);
    const value: string = sealed.values.LOG_LEVEL;
    sealed.values.LOG_LEVEL = value.replace(/data:([A-Za-z0-9+/])/, (_m, c: string) => `data:${c === 'A' ? 'B' : 'A'}`);
    fs.writeFileSync(file, JSON.stringify(sealed));
    expect((await runRunbook('env', ['show', '--service', 'api', '--version', '1', '--json'], { env })).code).toBe(3);
    fs.writeFileSync(file, original);

    const otherKey = path.join(dir, 'other.key');
    fs.writeFileSync(otherKey, Buffer.alloc(32, 7).toString('base64'), { mode: 0o600 });
    const wrong = await runRunbook('env', ['show', '--service', 'api', '--version', '1', '--json'], { env: { ...env, TICKVAULT_ENV_KEY_FILE: otherKey } });
    expect(wrong.code).toBe(2);
    expect(wrong.events.find((e) => e.event === 'error')?.message).toMatch(/sealed with key local:/);
    const missing = await runRunbook('env', ['show', '--service', 'api', '--version', '1', '--json'], { env: { ...env, TICKVAULT_ENV_KEY_FILE: path.join(dir, 'nope.key') } });
    expect(missing.code).toBe(2);
  });

  it('two snapshots taken at the same moment are both kept', async () => {
    await snapshot(); // creates the key first
    const [a, b] = await Promise.all([snapshot(['--message', 'A']), snapshot(['--message', 'B'])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const list = await runRunbook('env', ['list', '--service', 'api', '--json'], { env });
    const messages = (list.summary!.versions as { message: string }[]).map((v) => v.message);
    expect(messages).toHaveLength(3);
    expect(messages.slice(1).sort()).toEqual(['A', 'B']);
  });

  it('reads JSON files and the process environment by prefix', async () => {
    const json = path.join(dir, 'vars.json');
    fs.writeFileSync(json, JSON.stringify({ A: 'one', B: 2 }));
    expect((await runRunbook('env', ['snapshot', '--service', 'web', '--from', `json:${json}`, '--json'], { env })).code).toBe(0);
    const fromEnv = await runRunbook('env', ['snapshot', '--service', 'worker', '--from', 'env:TVTEST_', '--json'], { env: { ...env, TVTEST_ONE: 'x1', TVTEST_TWO: 'x2' } });
    expect(fromEnv.summary).toMatchObject({ keys: 2 });
    const out = await runRunbook('env', ['export', '--service', 'web', '--version', 'latest', '--format', 'dotenv', '--reveal'], { env });
    expect(out.stdout).toContain('A=one\nB=2\n');
  });

  it('the operator path: a bare .env path, the version and the new key named, services listed, id prefixes, diff exit 3', async () => {
    // --from PATH means dotenv:PATH; the first snapshot names the new key and says to back it up.
    const first = await runRunbook('env', ['snapshot', '--service', 'api', '--from', dotenv], { env });
    expect(first.code, first.stderr).toBe(0);
    const firstText = first.stdout + first.stderr;
    expect(firstText).toContain(`a new vault key was created: ${env.TICKVAULT_ENV_KEY_FILE}`);
    expect(firstText).toMatch(/back it up now/);
    const id = fs.readdirSync(path.join(dir, 'vault', 'env', 'api')).find((f) => f !== 'HEAD.json')!.replace(/\.json$/, '');
    expect(firstText).toContain(`api: version 1 (${id}), 4 keys`);
    const second = await runRunbook('env', ['snapshot', '--service', 'api', '--from', dotenv, '--json'], { env });
    expect(second.summary).toMatchObject({ version: 2, keys: 4 });
    expect(second.summary!.newKeyFile).toBeUndefined();
    expect(second.stdout).not.toMatch(/new vault key/);
    await runRunbook('env', ['snapshot', '--service', 'worker-2', '--from', `env:TVTEST_`, '--json'], { env: { ...env, TVTEST_X: '1' } });
    // A scheme that is not one is refused by name, not read as a file.
    const typo = await runRunbook('env', ['snapshot', '--service', 'api', '--from', `dotnev:${dotenv}`, '--json'], { env });
    expect(typo.code).toBe(2);
    expect(typo.events.find((e) => e.event === 'error')?.message).toMatch(/not a source or target: "dotnev:/);

    // list without --service: the services, as the vault's folders say.
    const services = await runRunbook('env', ['list', '--json'], { env });
    expect(services.code, services.stdout).toBe(0);
    expect(services.summary!.services).toEqual(fs.readdirSync(path.join(dir, 'vault', 'env')).sort());
    expect(services.summary!.services).toEqual(['api', 'worker-2']);

    // A unique prefix of an id picks that version; an ambiguous one is a usage error naming the candidates.
    const ids = fs.readdirSync(path.join(dir, 'vault', 'env', 'api')).filter((f) => f !== 'HEAD.json').map((f) => f.replace(/\.json$/, '')).sort();
    let unique = 1;
    while (ids.filter((x) => x.startsWith(ids[1]!.slice(0, unique))).length > 1) unique++;
    const byPrefix = await runRunbook('env', ['show', '--service', 'api', '--version', ids[1]!.slice(0, unique), '--json'], { env });
    expect(byPrefix.code, byPrefix.stdout).toBe(0);
    expect(byPrefix.summary!.version).toMatchObject({ id: ids[1] });
    const ambiguous = await runRunbook('env', ['show', '--service', 'api', '--version', '2', '--json'], { env });
    expect(ambiguous.summary!.version).toMatchObject({ number: 2 });
    const common = ids[0]!.slice(0, 8);
    expect(ids.every((x) => x.startsWith(common))).toBe(true);
    const both = await runRunbook('env', ['show', '--service', 'api', '--version', common, '--json'], { env });
    expect(both.code).toBe(2);
    expect(both.events.find((e) => e.event === 'error')?.message).toMatch(/ambiguous/);

    // diff: the same values exit 0, different ones exit 3.
    expect((await runRunbook('env', ['diff', '--service', 'api', '1', '2', '--json'], { env })).code).toBe(0);
    fs.appendFileSync(dotenv, 'NEW_KEY=1\n');
    const differs = await runRunbook('env', ['diff', '--service', 'api', 'latest', `live:${dotenv}`, '--json'], { env });
    expect(differs.code, differs.stdout).toBe(3);
    expect(differs.summary).toMatchObject({ added: ['NEW_KEY'] });
  });
});
