import type pg from 'pg';
import type { Run } from '../engine/run';
import type { Journal } from './journal';

export const PHASES = ['preflight', 'backup', 'expand', 'backfill', 'verify', 'dual-write', 'cutover', 'cleanup'] as const;
export type PhaseId = (typeof PHASES)[number];

export interface PlanOptions {
  sourceUrl: string;
  targetUrl: string;
  /** copy-table: the table to move. */
  table?: string;
  /** Time that must pass after dual-write before cleanup may run. */
  safetyWindowMs: number;
  /** sqlite-price-log: the SQLite file and the JSON snapshot directory. */
  sqlitePath?: string;
  jsonDir?: string;
  /** Optional env snapshot taken in the backup phase (env.ts source spec). */
  envFrom?: string;
  envService?: string;
  jobs: number;
  /** Where the backup phase writes (BACKUP_REPO) and the repository's credentials. */
  backupRepo?: string;
  backupEnv: string;
  repoEnv: Record<string, string | undefined>;
}

export interface PhaseContext {
  run: Run;
  plan: Plan;
  options: PlanOptions;
  journal: Journal;
  /** Connection to the target database (where the journal lives). */
  target: pg.Client;
  /** Details recorded by earlier phases' end events. */
  recorded(phase: PhaseId): Record<string, unknown>;
  /** When a phase last ended (for safety windows). */
  endedAt(phase: PhaseId): Date | undefined;
}

/**
 * One step of a migration, with its reverse defined next to it (sqitch's
 * deploy/verify/revert). `run` returns details that go in the journal and
 * that `rollback` reads back.
 */
export interface Phase {
  id: PhaseId;
  title: string;
  /** Refuse (RefusedError, exit 4) when the phase may not run yet. */
  precondition?(ctx: PhaseContext): Promise<void>;
  run(ctx: PhaseContext): Promise<Record<string, unknown> | void>;
  /** Check what run did; a failure is exit 3. */
  verify?(ctx: PhaseContext): Promise<Record<string, unknown> | void>;
  /** Undo run, leaving the data as it was before the phase. */
  rollback?(ctx: PhaseContext): Promise<void>;
}

export interface Plan {
  id: string;
  title: string;
  /** The seed document this plan comes from. */
  source: string;
  /** Source and target are different databases. */
  crossDatabase: boolean;
  phases: Phase[];
  /** Re-check source/target parity (with any catch-up); throws VerificationError when it does not hold. */
  parity?(ctx: PhaseContext): Promise<Record<string, unknown>>;
}
