import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runRunbook } from '../helpers/runbook';

// Read-change-append on one env service from several processes at once (the
// reader switch at cutover beside an env snapshot): every change must build on
// the one before it, none may be lost. Read back through the CLI.
const run = promisify(execFile);
const chain = path.resolve('runbooks/env/chain.ts');
const openVaultModule = path.resolve('runbooks/env/open-vault.ts');
const maskModule = path.resolve('runbooks/engine/mask.ts');

describe('env vault: concurrent read-change-append', () => {
  it('four processes × three keys each: the newest version holds all twelve', { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-envrace-'));
    const env = { TICKVAULT_HOME: path.join(dir, 'home'), BACKUP_REPO: `file://${path.join(dir, 'vault')}`, TICKVAULT_ENV_KEY_FILE: path.join(dir, 'vault.key') };
    fs.writeFileSync(path.join(dir, '.env'), 'BASE=1\n');
    expect((await runRunbook('env', ['snapshot', '--service', 'api', '--from', `dotenv:${path.join(dir, '.env')}`, '--json'], { env })).code).toBe(0);
    const script = (worker: number) => `
      const { changeHead } = await import(${JSON.stringify(chain)});
      const { openVault } = await import(${JSON.stringify(openVaultModule)});
      const { Masker } = await import(${JSON.stringify(maskModule)});
      const settings = { get: (n) => process.env[n], require: (n) => process.env[n] };
      const vault = openVault(settings);
      const keys = vault.keys(false);
      for (let i = 0; i < 3; i++) {
        await changeHead(vault.store, keys, 'api', new Masker(), async (head) => ({
          service: 'api', content: { entries: [...head.entries, ['K${worker}_' + i, 'v']], format: 'dotenv' },
          source: 'test', message: 'worker ${worker}', kind: 'snapshot',
        }));
      }`;
    const files = [0, 1, 2, 3].map((w) => {
      const file = path.join(dir, `w${w}.mts`);
      fs.writeFileSync(file, script(w));
      return file;
    });
    await Promise.all(files.map((file) => run('npx', ['tsx', file], { env: { ...process.env, ...env } })));
    const out = await runRunbook('env', ['export', '--service', 'api', '--version', 'latest', '--format', 'dotenv', '--reveal', '--out', path.join(dir, 'out.env')], { env });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    const keys = fs.readFileSync(path.join(dir, 'out.env'), 'utf8').split('\n').filter(Boolean).map((l) => l.split('=')[0]).sort();
    expect(keys).toEqual(['BASE', ...[0, 1, 2, 3].flatMap((w) => [0, 1, 2].map((i) => `K${w}_${i}`))].sort());
  });
});
