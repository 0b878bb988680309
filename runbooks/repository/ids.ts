import { UsageError, VerificationError } from '../engine/errors';

/**
 * Grammars for names that arrive from outside (flags, manifests, folder
 * names) and later become path segments or log text. Anything else is
 * refused before it reaches a path, a shell or SQL.
 */
export const BACKUP_ID = /^(postgres|redis|qdrant)-(logical|physical|rdb|snapshot)-\d{8}T\d{6}Z-[0-9a-f]{4}$/;
export const ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/** One path segment of an artifact: no separators, no "..", no control characters. */
const SEGMENT = /^(?!\.\.?$)[A-Za-z0-9._+@=,-]{1,255}$/;

export const isBackupId = (value: string): boolean => BACKUP_ID.test(value);

/** A backup id given by an operator (flag or argument): a bad one is a usage error. */
export function backupIdFlag(value: string, flag = '--backup'): string {
  if (!isBackupId(value)) throw new UsageError(`${flag}: "${value.slice(0, 80)}" is not a backup id (like postgres-logical-20260101T000000Z-1a2b; see "backup.ts list")`);
  return value;
}

export function envName(value: string): string {
  if (!ENV_NAME.test(value)) throw new UsageError(`TICKVAULT_ENV: "${value.slice(0, 80)}" is not a valid name (letters, digits, - and _)`);
  return value;
}

/** A relative path inside a backup: segments of SEGMENT joined by "/". */
export function isSafeRelativePath(value: string): boolean {
  if (value.length === 0 || value.length > 1024) return false;
  return value.split('/').every((segment) => SEGMENT.test(segment));
}

export function safeRelativePath(value: string, where: string): string {
  if (!isSafeRelativePath(value)) throw new VerificationError(`${where}: "${value.slice(0, 120)}" is not a relative path inside the backup; refused`);
  return value;
}

/** The timestamp embedded in a backup id (when the backup started). */
export function backupIdTime(id: string): Date | undefined {
  const m = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(id);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
}
