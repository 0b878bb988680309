import type { Invocation } from './invoke';
import type { Rehearsal } from './rehearsal';

export interface ScenarioResult {
  name: string;
  scenario: 'corruption' | 'full-failure' | 'deletion';
  disaster: string;
  recovery: string;
  passed: boolean;
  /** What the drill itself checked after the runbook said it verified. */
  checks: { check: string; ok: boolean; detail?: string }[];
  restore?: Invocation;
  rtoMs?: number | null;
  rpoMs?: number | null;
  rtoTargetMs?: number;
  rpoTargetMs?: number;
  error?: string;
}

export interface DrillReport {
  run: string;
  startedAt: string;
  finishedAt: string;
  scale: number;
  /** The TimescaleDB version drilled, when the stack has it. */
  timescaledb?: string;
  /** What was drilled on it: hypertables, chunks, compressed chunks, aggregates, jobs. */
  timescaleLayout?: string;
  passed: boolean;
  backups: Invocation[];
  scenarios: ScenarioResult[];
  rehearsals: Rehearsal[];
  skipped: string[];
}
