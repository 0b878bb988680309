import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { root } from '../helpers/runbook';

const bin = path.join(root, 'bin', 'tickvault.js');
const tickvault = (...args: string[]) => {
  const out = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TICKVAULT_HOME: path.join(os.tmpdir(), 'tickvault-cli-test') } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
};
const ndjson = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the tickvault command', () => {
  it('dispatches to a runbook and shows its usage under its own name', () => {
    const out = tickvault('backup', '--help');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage: tickvault backup <command>');
    expect(out.stdout).not.toContain('npx tsx');
  });

  it('suggests the runbook meant, exit 2', () => {
    const out = tickvault('bakup', 'list');
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('unknown runbook "bakup" (did you mean "backup"?)');
  });

  it('suggests the flag meant, in --json too, and changes nothing', () => {
    const human = tickvault('restore', 'postgres', '--lates');
    expect(human.code).toBe(2);
    expect(human.stderr).toContain('unknown flag --lates (did you mean "--latest"?)');
    const json = tickvault('restore', 'postgres', '--lates', '--json');
    expect(json.code).toBe(2);
    const events = ndjson(json.stdout);
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', ok: false, exitCode: 2 });
    expect((summary.error as { message: string }).message).toContain('did you mean "--latest"?');
  });

  it('suggests the command meant', () => {
    const out = tickvault('backup', 'lst', '--json');
    expect(out.code).toBe(2);
    expect(ndjson(out.stdout).at(-1)!.error).toMatchObject({ code: 'TV_USAGE', message: expect.stringContaining('did you mean "list"?') });
  });

  it('run as a command (its #! line, through sh), caps V8\'s young generation and passes every argument through unchanged', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tv-argv-')), 'argv.json');
    const odd = ["odd 'q' ..; DROP", 'with space', '$HOME', '"quoted"', ''];
    const env = { ...process.env, NODE_OPTIONS: `--import=${path.join(root, 'test/helpers/print-exec-argv.mjs')}`, PRINT_ARGV_FILE: file };
    const direct = spawnSync(bin, ['seed', '--help', ...odd], { cwd: root, encoding: 'utf8', env });
    expect(direct.error).toBeUndefined();
    const seen = JSON.parse(fs.readFileSync(file, 'utf8')) as { execArgv: string[]; argv: string[] };
    expect(seen.execArgv).toContain('--max-semi-space-size=4');
    expect(seen.argv).toEqual(['seed', '--help', ...odd]);
    // `node bin/tickvault.js` reads line 2 as a string and a comment: it runs, without the flag.
    const viaNode = spawnSync(process.execPath, [bin, 'seed', '--help'], { cwd: root, encoding: 'utf8', env });
    expect(viaNode.status).toBe(0);
    expect(viaNode.stdout).toContain('Usage: tickvault seed');
    expect((JSON.parse(fs.readFileSync(file, 'utf8')) as { execArgv: string[] }).execArgv).not.toContain('--max-semi-space-size=4');
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('ends with the run\'s exit code, and says so, when something is left open after the summary', () => {
    const leaky = (extra: NodeJS.ProcessEnv, timeout: number) => spawnSync(process.execPath, [bin, 'backup', 'lst'], { cwd: root, encoding: 'utf8', timeout, env: { ...process.env, TICKVAULT_HOME: path.join(os.tmpdir(), 'tickvault-cli-test'), TICKVAULT_TEST_LEAK_HANDLE: '1', ...extra } });
    const out = leaky({ TICKVAULT_LINGER_MS: '300' }, 20_000);
    expect(out.signal).toBeNull();
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('still running 0.3 s after the summary');
    // Without the guard's timer the same open handle would keep it alive: spawnSync's timeout kills it.
    expect(leaky({ TICKVAULT_LINGER_MS: '60000' }, 3_000).signal).toBe('SIGTERM');
  });

  it('prints the usage when a runbook gets no command', () => {
    const out = tickvault('backup');
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('a command is required');
    expect(out.stderr).toContain('Usage: tickvault backup');
  });

  it('prints a bash completion script that completes runbooks, commands and flags', () => {
    const out = tickvault('completion', 'bash');
    expect(out.code).toBe(0);
    const complete = (line: string) => {
      const words = line.split(' ');
      const script = `${out.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tickvault; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      return r.stdout.trim().split('\n');
    };
    expect(complete('tickvault ba')).toEqual(['backup']);
    expect(complete('tickvault backup pr')).toEqual(['prune']);
    expect(complete('tickvault restore postgres --to-t')).toEqual(['--to-time']);
    expect(complete('tickvault migrate --safety')).toEqual(['--safety-window']);
  });

  it('prints a zsh completion script', () => {
    const out = tickvault('completion', 'zsh');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^#compdef tickvault/);
    expect(tickvault('completion', 'fish').code).toBe(2);
  });
});

describe('where it acts', () => {
  const stack = inject('stack');
  const run = (args: string[], env: Record<string, string> = {}) => {
    const out = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TICKVAULT_HOME: stack.home, ...env } });
    return { code: out.status, events: ndjson(out.stdout), stderr: out.stderr };
  };
  const password = new URL(stack.postgresUrl).password;
  const { hostname, port } = new URL(stack.postgresUrl);

  it('announces each target with host, port, database and origin, never the password', () => {
    const fromFile = run(['backup', 'list', '--json']);
    expect(fromFile.code).toBe(0);
    // A listing's --json is one document: its targets are folded into it.
    const repo = (fromFile.events[0]!.targets as Record<string, unknown>[]).find((t) => t.setting === 'BACKUP_REPO');
    expect(repo).toMatchObject({ origin: 'local-stack', where: expect.stringMatching(/^s3 bucket /) });

    const viaEnv = run(['validate', '--dry-run', '--json'], { DATABASE_URL: stack.postgresUrl });
    const db = viaEnv.events.find((e) => e.event === 'target' && e.setting === 'DATABASE_URL');
    expect(db).toMatchObject({ origin: 'env', where: `postgres ${hostname}:${port} db tickvault as tickvault` });
    const start = viaEnv.events.find((e) => e.event === 'start')!;
    expect(start.operator).toEqual(expect.any(String));
    expect(start.argv).toEqual(['--dry-run', '--json']);
    expect(JSON.stringify(viaEnv.events)).not.toContain(password);
  });

  it('prints the targets on the terminal too, masked', () => {
    const out = spawnSync(process.execPath, [bin, 'verify', '--source-url', stack.postgresUrl, '--table', 'public.no_such_table'], { cwd: root, encoding: 'utf8', env: { ...process.env, TICKVAULT_HOME: stack.home } });
    expect(out.stderr).toMatch(new RegExp(`→ --source-url +postgres ${hostname}:${port} db tickvault as tickvault +from a flag`));
    expect(out.stderr).not.toContain(password);
  });
});

describe('drill --dry-run', () => {
  it('prints the plan of every step and starts nothing', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-drill-plan-'));
    const out = spawnSync(process.execPath, [bin, 'drill', '--dry-run', '--json'], { cwd: root, encoding: 'utf8', env: { ...process.env, TICKVAULT_HOME: home } });
    expect(out.status).toBe(0);
    const events = ndjson(out.stdout);
    const planned = events.filter((e) => e.event === 'plan').map((e) => e.step);
    expect(planned).toHaveLength(10);
    // Every step says where it stands: step N of M.
    expect(events.filter((e) => e.event === 'plan').map((e) => `${String(e.index)}/${String(e.of)}`)).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 1}/10`));
    expect(planned.filter((s) => String(s).startsWith('disaster '))).toHaveLength(4);
    expect(fs.existsSync(path.join(home, 'drill'))).toBe(false);
    fs.rmSync(home, { recursive: true, force: true });
  });
});

describe('audit log', () => {
  const stack = inject('stack');
  it('is written for commands that act, and not for read-only listings', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-audit-'));
    fs.cpSync(path.join(stack.home, 'local', 'env'), path.join(home, 'local', 'env'), { recursive: true });
    const audits = () => (fs.existsSync(path.join(home, 'audit')) ? fs.readdirSync(path.join(home, 'audit'), { recursive: true }).filter((f) => String(f).endsWith('.jsonl')) : []);
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, '--json'], { cwd: root, encoding: 'utf8', env: { ...process.env, TICKVAULT_HOME: home } }).status;
    expect(run('backup', 'list')).toBe(0);
    expect(run('migrate', 'plans')).toBe(0);
    expect(audits()).toEqual([]);
    expect(run('backup', 'verify', 'no-such-backup')).not.toBe(0);
    expect(audits()).toHaveLength(1);
    fs.rmSync(home, { recursive: true, force: true });
  });
});

