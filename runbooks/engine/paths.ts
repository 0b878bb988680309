import fs from 'node:fs';
import path from 'node:path';

/** The repository root: the nearest folder above this module with a package.json (source or built dist/). */
export const projectRoot = findRoot(import.meta.dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..', '..');
  }
}

/** Where tickvault keeps local state; TICKVAULT_HOME overrides (tests use it). */
export function stateRoot(): string {
  return path.resolve(process.env.TICKVAULT_HOME ?? path.join(projectRoot, '.tickvault'));
}

export const localDir = (): string => path.join(stateRoot(), 'local');
export const localEnvFile = (): string => path.join(localDir(), 'env');
export const auditDir = (): string => process.env.TICKVAULT_AUDIT_DIR ?? path.join(stateRoot(), 'audit');
export const lockDir = (): string => path.join(stateRoot(), 'locks');

/**
 * A private (0700) folder whose missing parents get default modes: the state
 * root must stay traversable for the local stack's service user.
 */
export function privateDir(dir: string): string {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
