import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { beforeEach, describe, expect, it } from 'vitest';
import { runRunbook } from '../helpers/runbook';

/**
 * The env vault against someone who can write to the vault but holds no
 * key, and against awkward dotenv files. Independent checks: the bytes on
 * disk, and bash itself sourcing what `export --format shell` writes.
 */
let dir: string;
let env: Record<string, string>;
let dotenv: string;
const vaultDir = (service: string) => path.join(dir, 'vault', 'env', service);
const versionFiles = (service: string) => fs.readdirSync(vaultDir(service)).filter((f) => f !== 'HEAD.json').sort();
const envRun = (args: string[], extra: Record<string, string> = {}) => runRunbook('env', [...args, '--json'], { env: { ...env, ...extra } });
const snap = (service: string, from = dotenv, message = 'm') => envRun(['snapshot', '--service', service, '--from', `dotenv:${from}`, '--message', message]);
const errorOf = (r: { events: Record<string, unknown>[] }) => String(r.events.find((e) => e.event === 'error')?.message ?? '');

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-envh-'));
  dotenv = path.join(dir, '.env');
  fs.writeFileSync(dotenv, 'A=1\nTOKEN=first-secret-value\n');
  env = { TICKVAULT_HOME: path.join(dir, 'home'), BACKUP_REPO: `file://${path.join(dir, 'vault')}`, TICKVAULT_ENV_KEY_FILE: path.join(dir, 'home', 'vault.key') };
});

async function threeVersions(service = 'api') {
  for (const v of ['one', 'two', 'three']) {
    fs.writeFileSync(dotenv, `A=${v}\nTOKEN=secret-${v}-value\n`);
    expect((await snap(service, dotenv, v)).code).toBe(0);
  }
  return versionFiles(service);
}

describe('env vault versions are authenticated, chained and checked where they are stored', () => {
  it('a version copied from another service is refused (exit 3), and so is one whose file name disagrees with its id', async () => {
    await threeVersions('api');
    fs.writeFileSync(dotenv, 'OTHER=x\n');
    expect((await snap('web')).code).toBe(0);
    const [first] = versionFiles('api');
    fs.copyFileSync(path.join(vaultDir('api'), first!), path.join(vaultDir('web'), first!));
    const show = await envRun(['show', '--service', 'web', '--version', first!.replace('.json', '')]);
    expect(show.code).toBe(3);
    expect(errorOf(show)).toMatch(/sealed for service "api"/);
    const web = await envRun(['list', '--service', 'web']);
    expect(web.code).toBe(3);
    expect(errorOf(web)).toContain(first!.replace('.json', ''));
    const renamed = '20990101T000000000Z-deadbeef.json';
    fs.renameSync(path.join(vaultDir('api'), first!), path.join(vaultDir('api'), renamed));
    const list = await envRun(['list', '--service', 'api']);
    expect(list.code).toBe(3);
    expect(errorOf(list)).toMatch(/disagrees with its name/);
  });

  it('deleting the newest version is detected by list (exit 3); the older versions stay readable and restorable', async () => {
    const files = await threeVersions();
    fs.rmSync(path.join(vaultDir('api'), files.at(-1)!));
    const list = await envRun(['list', '--service', 'api']);
    expect(list.code).toBe(3);
    expect(errorOf(list)).toContain(files.at(-1)!.replace('.json', ''));
    expect(errorOf(list)).toMatch(/missing: deleted/);
    expect((list.summary!.versions as unknown[]).length).toBe(2);
    const show = await envRun(['show', '--service', 'api', '--version', '1']);
    expect(show.code).toBe(0);
    const restore = await envRun(['restore', '--service', 'api', '--version', '2', '--to', `dotenv:${dotenv}`, '--yes']);
    expect(restore.code, restore.stdout).toBe(0);
    expect(fs.readFileSync(dotenv, 'utf8')).toBe('A=two\nTOKEN=secret-two-value\n');
    // Appending on top of a vault whose newest version vanished would hide it: refused.
    expect((await snap('api')).code).toBe(3);
  });

  it('deleting the newest version together with rolling HEAD back is caught by what this machine has seen', async () => {
    await threeVersions();
    const headTwo = fs.readFileSync(path.join(vaultDir('api'), 'HEAD.json'));
    fs.writeFileSync(dotenv, 'A=four\n');
    expect((await snap('api')).code).toBe(0);
    expect((await envRun(['list', '--service', 'api'])).code).toBe(0);
    fs.rmSync(path.join(vaultDir('api'), versionFiles('api').at(-1)!));
    fs.writeFileSync(path.join(vaultDir('api'), 'HEAD.json'), headTwo);
    const list = await envRun(['list', '--service', 'api']);
    expect(list.code).toBe(3);
    expect(errorOf(list)).toMatch(/has seen version .* \(number 4\)/);
  });

  it('a tampered middle version is named (exit 3); the versions around it still open', async () => {
    const files = await threeVersions();
    const file = path.join(vaultDir('api'), files[1]!);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"two"', '"innocent"'));
    const list = await envRun(['list', '--service', 'api']);
    expect(list.code).toBe(3);
    expect(errorOf(list)).toContain(files[1]!.replace('.json', ''));
    expect((await envRun(['show', '--service', 'api', '--version', '2'])).code).toBe(3);
    expect((await envRun(['show', '--service', 'api', '--version', '1'])).code).toBe(0);
    expect((await envRun(['show', '--service', 'api', '--version', '3'])).code).toBe(0);
  });

  it('a new key is not created while the vault holds versions sealed with another (exit 4)', async () => {
    expect((await snap('api')).code).toBe(0);
    const fresh = path.join(dir, 'fresh.key');
    const refused = await envRun(['snapshot', '--service', 'other', '--from', `dotenv:${dotenv}`], { TICKVAULT_ENV_KEY_FILE: fresh });
    expect(refused.code).toBe(4);
    expect(fs.existsSync(fresh)).toBe(false);
    expect(fs.existsSync(vaultDir('other'))).toBe(false);
  });
});

describe('dotenv files round-trip exactly', () => {
  const AWKWARD = [
    '# comment line\r',
    'export API_TOKEN="tok #not-a-comment"\r',
    'WIN_PATH=C:\\Users\\ops\\new\r',
    "SINGLE='it has \\n and \"quotes\"'\r",
    'DOUBLE="line1\\nline2 \\"q\\" back\\\\slash"\r',
    'HASH=a#b # trailing comment\r',
    'DUP=first\r',
    'SPACED = padded value   \r',
    'DUP=second\r',
    'EMPTY=\r',
    '',
  ].join('\n');
  const EXPECTED = {
    API_TOKEN: 'tok #not-a-comment',
    WIN_PATH: 'C:\\Users\\ops\\new',
    SINGLE: 'it has \\n and "quotes"',
    DOUBLE: 'line1\nline2 "q" back\\slash',
    HASH: 'a#b',
    DUP: 'second',
    SPACED: 'padded value',
    EMPTY: '',
  };

  it('CRLF, export prefixes, backslashes, quotes, # in values and duplicate keys (the last wins): values as documented, bytes restored exactly', async () => {
    fs.writeFileSync(dotenv, AWKWARD);
    expect((await snap('api')).code).toBe(0);
    const out = path.join(dir, 'values.json');
    expect((await envRun(['export', '--service', 'api', '--version', '1', '--format', 'json', '--out', out])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(EXPECTED);
    fs.writeFileSync(dotenv, 'API_TOKEN=changed\n');
    expect((await envRun(['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--prune', '--yes'])).code).toBe(0);
    expect(fs.readFileSync(dotenv, 'utf8')).toBe(AWKWARD);
    // Edited in place (not the exact bytes): the CRLF line ends stay, and the file re-reads to the same values.
    fs.writeFileSync(dotenv, AWKWARD.replace('HASH=a#b', 'HASH=zzz') + 'EXTRA=1\r\n');
    expect((await envRun(['restore', '--service', 'api', '--version', '1', '--to', `dotenv:${dotenv}`, '--yes'])).code).toBe(0);
    const text = fs.readFileSync(dotenv, 'utf8');
    expect(text).toContain('HASH=a#b # trailing comment\r\n');
    expect((await snap('api')).code).toBe(0);
    expect((await envRun(['export', '--service', 'api', '--version', 'latest', '--format', 'json', '--out', out])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual({ ...EXPECTED, EXTRA: '1' });
  });

  it('a non-empty file that yields no keys is refused (exit 2), and so is an unreadable line', async () => {
    fs.writeFileSync(dotenv, 'this is not a dotenv file\n');
    const refused = await snap('api');
    expect(refused.code).toBe(2);
    expect(errorOf(refused)).toMatch(/line 1/);
    fs.writeFileSync(dotenv, '# only comments\n# here\n');
    const empty = await snap('api');
    expect(empty.code).toBe(2);
    expect(errorOf(empty)).toMatch(/yields no keys/);
  });

  it('export --format shell quotes so bash reads the exact values, and refuses keys that are not identifiers', async () => {
    fs.writeFileSync(dotenv, `Q="it's \\"$HOME\\" \`id\` $(id) \\\\ end"\nPLAIN=x\n`);
    expect((await snap('api')).code).toBe(0);
    const out = path.join(dir, 'vars.sh');
    expect((await envRun(['export', '--service', 'api', '--version', '1', '--format', 'shell', '--out', out])).code).toBe(0);
    const read = await $`bash -c ${`source ${out}; printf %s "$Q"`}`;
    expect(read.stdout).toBe('it\'s "$HOME" `id` $(id) \\ end');
    const json = path.join(dir, 'bad.json');
    fs.writeFileSync(json, JSON.stringify({ 'A.B': 'x', 'ok': 'y' }));
    expect((await envRun(['snapshot', '--service', 'j', '--from', `json:${json}`])).code).toBe(0);
    const refused = await envRun(['export', '--service', 'j', '--version', '1', '--format', 'shell', '--out', path.join(dir, 'j.sh')]);
    expect(refused.code).toBe(2);
    expect(errorOf(refused)).toContain('"A.B"');
    expect(fs.existsSync(path.join(dir, 'j.sh'))).toBe(false);
  });

  it('export --out is always 0600 and replaces a planted symlink instead of writing through it', async () => {
    expect((await snap('api')).code).toBe(0);
    const out = path.join(dir, 'out.env');
    fs.writeFileSync(out, 'old', { mode: 0o644 });
    fs.chmodSync(out, 0o644);
    expect((await envRun(['export', '--service', 'api', '--version', '1', '--out', out])).code).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'untouched');
    const link = path.join(dir, 'link.env');
    fs.symlinkSync(victim, link);
    expect((await envRun(['export', '--service', 'api', '--version', '1', '--out', link])).code).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('untouched');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(false);
    expect(fs.statSync(link).mode & 0o777).toBe(0o600);
  });
});
