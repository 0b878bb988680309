import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { $ } from '../../runbooks/engine/shell';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type RunbookSpec } from '../../runbooks/engine/cli';
import { ConfigError, LockHeldError, RefusedError, TargetMissedError, UsageError, VerificationError } from '../../runbooks/engine/errors';
import { acquireFileLock } from '../../runbooks/engine/lock';
import { runTool } from '../../runbooks/engine/tool';

const SECRET = 'Sup3r-Secret-Value';
let home: string;

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-engine-'));
  process.env.TICKVAULT_HOME = home;
  delete process.env.TICKVAULT_AUDIT_DIR;
});
afterEach(() => {
  fs.rmSync(home, { recursive: true, force: true });
  process.exitCode = 0;
});

async function invoke(spec: RunbookSpec, argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(spec, { argv, stdout, stderr, env: { ...env, TICKVAULT_HOME: home } });
  const events = argv.includes('--json') ? out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) : [];
  const auditFiles = fs.existsSync(path.join(home, 'audit', spec.runbook)) ? fs.readdirSync(path.join(home, 'audit', spec.runbook)) : [];
  const audit = auditFiles.map((f) => fs.readFileSync(path.join(home, 'audit', spec.runbook, f), 'utf8')).join('');
  return { code, out, err, events, audit };
}

/** A demo runbook: two steps, the second destructive, with a marker file as its "change". */
function demo(marker: string, fail?: Error): RunbookSpec {
  return {
    runbook: 'demo',
    usage: 'Usage: demo [--target-url URL]',
    options: { 'target-url': { type: 'string' } },
    async main({ run, flags }) {
      const url = String(flags['target-url'] ?? '');
      await run.step('inspect', async (s) => {
        s.record({ target: url });
        return 1;
      }, { readOnly: true });
      await run.step('write', async (s) => {
        s.progress(5, 10, 'rows');
        fs.writeFileSync(marker, url);
        if (fail) throw fail;
      }, { confirm: { action: 'overwrite', target: 'demo-db' } });
      return { figures: { written: 1, url } };
    },
  };
}

describe('runbook engine', () => {
  it('emits NDJSON: start, step start/end with durations, and a final summary', async () => {
    const marker = path.join(home, 'm');
    const { code, events } = await invoke(demo(marker), ['--json', '--yes']);
    expect(code).toBe(0);
    expect(events[0]).toMatchObject({ event: 'start', runbook: 'demo' });
    for (const e of events) {
      expect(e).toHaveProperty('ts');
      expect(e.run).toBe(events[0]!.run);
    }
    const ends = events.filter((e) => e.event === 'end');
    expect(ends.map((e) => e.step)).toEqual(['inspect', 'write']);
    for (const e of ends) expect(typeof e.ms).toBe('number');
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({ event: 'summary', ok: true, exitCode: 0, written: 1 });
    expect(summary.steps).toHaveLength(2);
    expect(fs.existsSync(marker)).toBe(true);
  });

  it.each([
    [new UsageError('bad'), 2, 'TV_USAGE'],
    [new ConfigError('bad'), 2, 'TV_CONFIG'],
    [new VerificationError('bad'), 3, 'TV_VERIFY'],
    [new TargetMissedError('bad'), 3, 'TV_TARGET_MISSED'],
    [new RefusedError('bad'), 4, 'TV_REFUSED'],
    [new LockHeldError('bad'), 4, 'TV_LOCK_HELD'],
    [new Error('boom'), 1, 'TV_FAILED'],
  ])('maps %s to exit %i', async (error, exitCode, code) => {
    const { code: got, events } = await invoke(demo(path.join(home, 'm'), error), ['--json', '--yes']);
    expect(got).toBe(exitCode);
    expect(events.find((e) => e.event === 'error')).toMatchObject({ code, exitCode, step: 'write' });
    expect(events.at(-1)).toMatchObject({ event: 'summary', ok: false, exitCode });
  });

  it('rejects unknown flags with exit 2 and runs nothing', async () => {
    const marker = path.join(home, 'm');
    const { code, err } = await invoke(demo(marker), ['--nope']);
    expect(code).toBe(2);
    expect(err).toMatch(/unknown flag --nope/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('--dry-run plans the steps, runs read-only ones, and changes nothing', async () => {
    const marker = path.join(home, 'm');
    const { code, events } = await invoke(demo(marker), ['--json', '--dry-run']);
    expect(code).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
    expect(events.find((e) => e.event === 'plan')).toMatchObject({ step: 'write', destructive: true });
    expect(events.find((e) => e.event === 'end')).toMatchObject({ step: 'inspect' });
    expect(events.at(-1)).toMatchObject({ dryRun: true, ok: true });
  });

  it('refuses a destructive step without --yes when there is no terminal (exit 4, no change)', async () => {
    const marker = path.join(home, 'm');
    const { code, events } = await invoke(demo(marker), ['--json']);
    expect(code).toBe(4);
    expect(events.find((e) => e.event === 'error')).toMatchObject({ code: 'TV_CONFIRMATION_REQUIRED' });
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('masks secrets in JSON, human output and the audit log, including zx command logs', async () => {
    const url = `postgres://app:${SECRET}@127.0.0.1:1/db`;
    const spec: RunbookSpec = {
      runbook: 'demo',
      usage: 'demo',
      options: { 'target-url': { type: 'string' } },
      async main({ run }) {
        await run.step('shell', async () => {
          await $`echo ${SECRET} ${url}`;
          await runTool('echo', ['tool', SECRET, url]);
        });
        run.warn(`token is ${process.env.TV_TEST_TOKEN}`);
        return { figures: { url, echoed: SECRET } };
      },
    };
    process.env.TV_TEST_TOKEN = 'tok-A1B2C3D4';
    try {
      for (const argv of [['--json', '--target-url', url], ['--target-url', url]]) {
        const { code, out, err, audit } = await invoke(spec, argv, { API_TOKEN: SECRET, TV_TEST_TOKEN: 'tok-A1B2C3D4' });
        expect(code).toBe(0);
        expect(audit).toContain('"event":"cmd"');
        // Both ways of running a command (zx, and runTool without zx) are in the audit log, masked.
        expect(audit).toMatch(/"event":"cmd","cmd":"echo tool \*\*\*\*/);
        for (const text of [out, err, audit]) {
          expect(text).not.toContain(SECRET);
          expect(text).not.toContain('tok-A1B2C3D4');
        }
        expect(out + err).toContain('****');
      }
    } finally {
      delete process.env.TV_TEST_TOKEN;
    }
  });

  it('writes an append-only audit log per run that ends with the summary', async () => {
    const { events, audit } = await invoke(demo(path.join(home, 'm')), ['--json', '--yes']);
    const lines = audit.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.run === events[0]!.run)).toBe(true);
    expect(lines.at(-1)).toMatchObject({ event: 'summary', ok: true });
    expect(events.at(-1)!.audit).toMatch(/audit\/demo\/.*\.jsonl$/);
  });

  it('a second run against a locked target exits 4; a stale lock from a dead process is taken over', async () => {
    const spec: RunbookSpec = {
      runbook: 'demo',
      usage: 'demo',
      async main({ run }) {
        await run.lock('db-1');
        return { figures: {} };
      },
    };
    const held = await acquireFileLock('demo', 'db-1', 'other-run');
    const blocked = await invoke(spec, ['--json']);
    expect(blocked.code).toBe(4);
    expect(blocked.events.find((e) => e.event === 'error')).toMatchObject({ code: 'TV_LOCK_HELD' });
    await held.release();

    // A lock left by a process that no longer exists (kill -9) is stale.
    const lockFile = fs.readdirSync(path.join(home, 'locks'));
    expect(lockFile).toHaveLength(0);
    await acquireFileLock('demo', 'db-1', 'dead-run');
    const file = path.join(home, 'locks', fs.readdirSync(path.join(home, 'locks'))[0]!);
    fs.writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), run: 'dead-run', started: 'x' }));
    const after = await invoke(spec, ['--json']);
    expect(after.code).toBe(0);
    expect(fs.readdirSync(path.join(home, 'locks'))).toHaveLength(0);
  });

  it('prints a human summary with per-step timings on stderr', async () => {
    const { code, err, out } = await invoke(demo(path.join(home, 'm')), ['--yes']);
    expect(code).toBe(0);
    expect(out).toBe('');
    expect(err).toMatch(/OK\s+demo in/);
    expect(err).toMatch(/inspect\s+ok/);
    expect(err).toMatch(/write\s+ok/);
  });
});
