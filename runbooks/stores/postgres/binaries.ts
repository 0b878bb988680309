import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../engine/errors';
import { runTool } from '../../engine/tool';

let binDirCache: string | undefined;

/**
 * The newest installed PostgreSQL (>= 15) bin directory, or PG_BIN_DIR.
 * Client tools must be at least the server's version, so take the newest.
 */
export function pgBinDir(): string {
  if (binDirCache) return binDirCache;
  if (process.env.PG_BIN_DIR) return (binDirCache = process.env.PG_BIN_DIR);
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .map(Number)
        .filter((v) => v >= 15 && fs.existsSync(path.join(root, String(v), 'bin', 'pg_dump')))
        .sort((a, b) => b - a)
    : [];
  if (versions.length === 0) {
    throw new ConfigError('no PostgreSQL 15+ binaries found under /usr/lib/postgresql', { hint: 'run scripts/bootstrap (as root it installs them with apt), or set PG_BIN_DIR' });
  }
  return (binDirCache = path.join(root, String(versions[0]), 'bin'));
}

export const pgBin = (name: string): string => path.join(pgBinDir(), name);

export async function toolVersion(binary: string): Promise<string> {
  const out = await runTool(binary, ['--version']).catch(() => ({ stdout: '' }));
  return out.stdout.trim().split('\n')[0] || 'unknown';
}

/**
 * libpq connection for child tools: the URL without its password (so it
 * never shows in `ps` or the command log) plus PGPASSWORD in the env.
 */
export function libpqConnection(url: string): { conninfo: string; env: Record<string, string> } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { conninfo: parsed.toString(), env: password ? { PGPASSWORD: password } : {} };
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
