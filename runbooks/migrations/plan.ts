import type pg from 'pg';
import type { z } from 'zod';
import type { Settings } from '../engine/config';
import type { Run } from '../engine/run';

export const PHASES = ['preflight', 'backup', 'expand', 'backfill', 'verify', 'dual-write', 'cutover', 'cleanup'] as const;
export type PhaseId = (typeof PHASES)[number];

export type Details = Record<string, unknown>;

/** The backup phase's configuration: BACKUP_REPO, TICKVAULT_ENV and the env vault's settings, as env.ts reads them. */
export interface BackupSettings {
  config: Settings;
  /** Env snapshot source spec (env.ts: dotenv:PATH, json:PATH, env:PREFIX), and its service name. */
  envFrom?: string;
  envService?: string;
}

/** What every plan runs with: the engine's settings, not a plan's options. */
export interface EngineSettings {
  sourceUrl: string;
  targetUrl: string;
  /** Time that must pass after dual-write before cleanup may run. */
  safetyWindowMs: number;
  jobs: number;
  backup: BackupSettings;
}

export interface PhaseContext<O = unknown> {
  run: Run;
  plan: Plan<O>;
  /** This plan's own options, parsed by its schema. */
  options: O;
  settings: EngineSettings;
  /** What this run works on (copy-table: the table); journal, lock and ledger are keyed by plan and scope. */
  scope: string;
  /**
   * The target database. Inside a transactional phase this is the phase's
   * transaction: everything the phase does commits with its journal `end`.
   */
  target: pg.ClientBase;
  /** Details recorded by a phase (its `end`, and notes of attempts since its last rollback). */
  recorded(phase: PhaseId): Details;
  /** When a phase last ended (for safety windows). */
  endedAt(phase: PhaseId): Date | undefined;
  /**
   * Journal a fact about this phase at once, on its own connection (it
   * survives a crash and a rolled-back phase transaction): e.g. "created
   * this table", so rollback removes only what this plan made.
   */
  note(details: Details): Promise<void>;
  /** Rows (or batches) done of total, drawn by the CLI and emitted as NDJSON progress. */
  progress(done: number, total: number, unit?: string): void;
  /** A named point inside the phase where tests can kill the process (TICKVAULT_TEST_KILL_AT). */
  checkpoint(name: string): void;
}

/**
 * One step of a migration, with its reverse defined next to it (sqitch's
 * deploy/verify/revert). `run` returns details that go in the journal and
 * that `rollback` reads back.
 */
export interface Phase<O = unknown> {
  id: PhaseId;
  title: string;
  /**
   * The engine runs `run` and `verify` in one transaction on the target and
   * commits the journal's `end` in it: a crash leaves nothing half-done.
   */
  transaction: boolean;
  /**
   * Safe to run again after a crash part-way (guarded DDL, ledgers, upserts).
   * A non-transactional phase that is not idempotent is refused on re-run.
   */
  idempotent: boolean;
  /** `--all` stops before this phase (e.g. a cutover that moves writers): the operator runs it with --phase. */
  explicit?: boolean;
  /** Refuse (RefusedError, exit 4) when the phase may not run yet; nothing is journaled. */
  precondition?(ctx: PhaseContext<O>): Promise<void>;
  run(ctx: PhaseContext<O>): Promise<Details | void>;
  /** Check what run did; a failure is exit 3. */
  verify?(ctx: PhaseContext<O>): Promise<Details | void>;
  /** Undo run, leaving the data as it was before the phase. Must tolerate a partial run. */
  rollback?(ctx: PhaseContext<O>): Promise<void>;
}

export interface Plan<O = unknown> {
  id: string;
  title: string;
  /** The seed document this plan comes from. */
  source: string;
  /** Reads a source PostgreSQL database that must not be the target. */
  crossDatabase: boolean;
  /** This plan's options (CLI flags by the same names, camelCase), strict. */
  options: z.ZodType<O>;
  /** The objects this run works on; '' when the plan's objects are fixed. */
  scope(options: O): string;
  phases: Phase<O>[];
  /** Re-check parity (with any catch-up); throws VerificationError when it does not hold. Required with a cleanup phase. */
  parity?(ctx: PhaseContext<O>): Promise<Details>;
  /** Change-capture lag (bytes, seconds, applied counts) for `status` and `watch`; plans that capture changes. */
  lag?(ctx: PhaseContext<O>): Promise<Details & { bytes: number }>;
}

/** Helper so a plan's phases are checked against its own options type. */
export const definePlan = <O>(plan: Plan<O>): Plan<O> => plan;

// Plans are stored together; their option types differ, so the list erases them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPlan = Plan<any>;
