import path from 'node:path';

/** The repository root (runbooks/engine/ is two levels below it). */
export const projectRoot = path.resolve(import.meta.dirname, '..', '..');

/** Where tickvault keeps local state; TICKVAULT_HOME overrides (tests use it). */
export function stateRoot(): string {
  return path.resolve(process.env.TICKVAULT_HOME ?? path.join(projectRoot, '.tickvault'));
}

export const localDir = (): string => path.join(stateRoot(), 'local');
export const localEnvFile = (): string => path.join(localDir(), 'env');
export const auditDir = (): string => process.env.TICKVAULT_AUDIT_DIR ?? path.join(stateRoot(), 'audit');
export const lockDir = (): string => path.join(stateRoot(), 'locks');
