/**
 * Named errors with stable codes. The exit code is part of the runbook
 * contract: 1 failure while running, 2 usage/config (nothing changed),
 * 3 verification failed or RTO/RPO missed, 4 refused.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export class TickvaultError extends Error {
  readonly code: string = 'TV_FAILED';
  readonly exitCode: ExitCode = 1;
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments; nothing was changed. */
export class UsageError extends TickvaultError {
  override readonly code = 'TV_USAGE';
  override readonly exitCode = 2;
}

/** Missing or invalid configuration (URL, key, file); nothing was changed. */
export class ConfigError extends TickvaultError {
  override readonly code = 'TV_CONFIG';
  override readonly exitCode = 2;
}

/** A check of what was written or restored did not hold. */
export class VerificationError extends TickvaultError {
  override readonly code = 'TV_VERIFY';
  override readonly exitCode = 3;
}

/** An RTO or RPO target was missed. */
export class TargetMissedError extends TickvaultError {
  override readonly code = 'TV_TARGET_MISSED';
  override readonly exitCode = 3;
}

/** The runbook refused to act: unsafe, not confirmed, or not yet allowed. */
export class RefusedError extends TickvaultError {
  override readonly code: string = 'TV_REFUSED';
  override readonly exitCode = 4;
}

export class ConfirmationRequiredError extends RefusedError {
  override readonly code = 'TV_CONFIRMATION_REQUIRED';
}

export class LockHeldError extends RefusedError {
  override readonly code = 'TV_LOCK_HELD';
}

/** Map anything thrown to an exit code; unknown errors are failures (1). */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof TickvaultError ? error.exitCode : 1;
}

export function codeOf(error: unknown): string {
  return error instanceof TickvaultError ? error.code : 'TV_FAILED';
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
