import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../runbooks/engine/paths';

const run = promisify(execFile);
const runbookFiles = (fs.readdirSync(path.join(projectRoot, 'runbooks'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));

/** Whether `tickvault <argv>` resolves the zx package (a resolve hook records it), and its exit code. */
async function loadsZx(argv: string[]): Promise<{ zx: boolean; code: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-zx-'));
  const trace = path.join(dir, 'trace');
  fs.writeFileSync(trace, '');
  try {
    const env = { ...process.env, TRACE_ZX_FILE: trace, TICKVAULT_HOME: dir };
    const out = await run(process.execPath, ['--import', path.join(projectRoot, 'test/helpers/trace-zx.mjs'), path.join(projectRoot, 'bin/tickvault.js'), ...argv], { env }).then(
      () => 0,
      (error: { code?: number }) => error.code ?? 1,
    );
    return { zx: fs.readFileSync(trace, 'utf8').includes('zx'), code: out };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('start-up cost: zx (0.2–0.4 s to import) loads only where a runbook needs it', () => {
  it('runbooks take zx from engine/shell only, so its command log always reaches the audit log', () => {
    const direct = runbookFiles.filter((f) => /from 'zx(\/[^']*)?'/.test(fs.readFileSync(path.join(projectRoot, 'runbooks', f), 'utf8').replace(/import type [^;]+;/g, '')));
    expect(direct).toEqual([path.join('engine', 'shell.ts')]);
  });

  it('the migration CLI (plans, copy-table) and verify start without zx; the local stack still loads it (the check can fail)', async () => {
    expect(await loadsZx(['migrate', 'plans', '--json'])).toEqual({ zx: false, code: 0 });
    // A bad URL fails after the plans and the copy modules have loaded.
    const copy = await loadsZx(['migrate', 'run', '--plan', 'copy-table', '--table', 'public.t', '--source-url', 'postgres://x@127.0.0.1:1/a', '--target-url', 'postgres://x@127.0.0.1:1/b', '--phase', 'preflight', '--json']);
    expect(copy.zx).toBe(false);
    expect(copy.code).not.toBe(0);
    expect((await loadsZx(['verify', '--source-url', 'postgres://x@127.0.0.1:1/a', '--target-url', 'postgres://x@127.0.0.1:1/b', '--json'])).zx).toBe(false);
    expect((await loadsZx(['local', 'status', '--json'])).zx).toBe(true);
  });
});
