import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireFileLock } from '../../runbooks/engine/lock';

const saved = process.env.TICKVAULT_HOME;
afterEach(() => {
  process.env.TICKVAULT_HOME = saved;
});

describe('the state root', () => {
  it('stays traversable for the service user when private folders are created under it', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-root-'));
    const home = path.join(parent, '.tickvault');
    process.env.TICKVAULT_HOME = home;
    const lock = await acquireFileLock('backup', 'postgres:test', 'run-1');
    await lock.release();
    expect(fs.statSync(home).mode & 0o055).toBe(0o055);
    expect(fs.statSync(path.join(home, 'locks')).mode & 0o777).toBe(0o700);
    fs.rmSync(parent, { recursive: true, force: true });
  });
});
