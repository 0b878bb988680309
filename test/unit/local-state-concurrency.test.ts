import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Restores register the servers they start in the local stack's state.json,
// and `down` stops what is registered. Six processes registering at once must
// all stay registered (a lost registration is a server `down` never stops).
const run = promisify(execFile);
const stateModule = path.resolve('runbooks/local/state.ts');

describe('local stack state under concurrent writers', () => {
  it('six processes × five registrations: all thirty are in state.json, which stays valid JSON', { timeout: 60_000 }, async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-state-'));
    const cluster = { name: 'main', dataDir: '/x', port: 1, socketDir: '/x', logFile: '/x' };
    fs.mkdirSync(path.join(home, 'local'), { recursive: true });
    fs.writeFileSync(path.join(home, 'local', 'state.json'), JSON.stringify({
      version: 1, serviceUser: 'postgres',
      postgres: { ...cluster, superuser: 'u', password: 'p', database: 'd' },
      redis: { dir: '/r', port: 2, password: 'p' }, s3: { dir: '/s', port: 3, bucket: 'b' },
      pgbackrest: { configFile: '/c', repoPath: '/r', stanza: 's' }, extraClusters: [], extraRedis: [],
    }));
    const script = (worker: number) => `
      const { registerExtraCluster, registerExtraRedis } = await import(${JSON.stringify(stateModule)});
      for (let i = 0; i < 5; i++) {
        await registerExtraCluster({ name: 'c${worker}-' + i, dataDir: '/data/c${worker}-' + i, port: 1000 + i, socketDir: '/s', logFile: '/l' });
        await registerExtraRedis({ name: 'r${worker}-' + i, dir: '/redis/r${worker}-' + i, port: 2000 + i });
      }`;
    const scripts = [0, 1, 2, 3, 4, 5].map((w) => {
      const file = path.join(home, `writer-${w}.mts`);
      fs.writeFileSync(file, script(w));
      return file;
    });
    await Promise.all(scripts.map((file) => run('npx', ['tsx', file], { env: { ...process.env, TICKVAULT_HOME: home } })));
    const state = JSON.parse(fs.readFileSync(path.join(home, 'local', 'state.json'), 'utf8'));
    expect(state.extraClusters.map((c: { name: string }) => c.name).sort()).toHaveLength(30);
    expect(new Set(state.extraRedis.map((r: { name: string }) => r.name)).size).toBe(30);
    expect(fs.readdirSync(path.join(home, 'local')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
