import { z } from 'zod';
import { ConfigError } from '../engine/errors';
import { parseDuration } from '../engine/duration';

/** Seed 004's RTO/RPO table. */
export const DEFAULT_OBJECTIVES = {
  corruption: { rto: '2h', rpo: '1h' },
  'full-failure': { rto: '4h', rpo: '1h' },
  deletion: { rto: '1h', rpo: '24h' },
} as const;

export type Scenario = keyof typeof DEFAULT_OBJECTIVES;
export const SCENARIOS = Object.keys(DEFAULT_OBJECTIVES) as Scenario[];

const objectivesSchema = z.record(z.string(), z.object({ rto: z.string(), rpo: z.string() }));

/** Targets from TICKVAULT_OBJECTIVES (JSON, per scenario), defaults from seed 004. */
export function objectivesFor(scenario: Scenario, override?: string): { rtoMs: number; rpoMs: number } {
  let table: Record<string, { rto: string; rpo: string }> = { ...DEFAULT_OBJECTIVES };
  if (override) {
    const parsed = objectivesSchema.safeParse(JSON.parse(override));
    if (!parsed.success) throw new ConfigError(`TICKVAULT_OBJECTIVES: ${parsed.error.issues[0]?.message}`);
    table = { ...table, ...parsed.data };
  }
  const entry = table[scenario];
  if (!entry) throw new ConfigError(`no RTO/RPO targets for scenario "${scenario}"`);
  try {
    return { rtoMs: parseDuration(entry.rto), rpoMs: parseDuration(entry.rpo) };
  } catch (error) {
    throw new ConfigError(`TICKVAULT_OBJECTIVES.${scenario}: ${(error as Error).message}`);
  }
}

/** The consistency point of what was restored; `at` null means unknown, and `basis` says why. */
export interface RecoveryPoint {
  at: string | null;
  basis: string;
}

export interface ObjectivesReport {
  scenario: Scenario;
  rtoMs: number;
  /** Incident time minus recovery point; null when the recovery point is unknown. */
  rpoMs: number | null;
  rtoTargetMs: number;
  rpoTargetMs: number;
  rtoMet: boolean;
  /** null: unknown (never counted as a miss; the reason is in recoveryPoint.basis). */
  rpoMet: boolean | null;
  incidentTime: string;
  incidentTimeSource: 'flag' | 'restore start';
  recoveryPoint: RecoveryPoint;
  /** Newest timestamp found in the restored data: information, not the RPO. */
  newestRecoveredData: string | null;
}

/**
 * RTO: start to verified. RPO: the data-loss window, incident time minus
 * the recovery point (a backup's snapshot, a PITR target, the last replayed
 * commit…), not the age of the newest row: a quiet database loses nothing.
 */
export function measureObjectives(input: { scenario: Scenario; startedAt: number; verifiedAt: number; incidentTime?: Date; recoveryPoint: RecoveryPoint; newestData: string | null; override?: string }): ObjectivesReport {
  const targets = objectivesFor(input.scenario, input.override);
  const incident = input.incidentTime ?? new Date(input.startedAt);
  const rtoMs = input.verifiedAt - input.startedAt;
  const point = input.recoveryPoint.at ? Date.parse(input.recoveryPoint.at) : NaN;
  const rpoMs = Number.isNaN(point) ? null : Math.max(0, incident.getTime() - point);
  return {
    scenario: input.scenario,
    rtoMs,
    rpoMs,
    rtoTargetMs: targets.rtoMs,
    rpoTargetMs: targets.rpoMs,
    rtoMet: rtoMs <= targets.rtoMs,
    rpoMet: rpoMs === null ? null : rpoMs <= targets.rpoMs,
    incidentTime: incident.toISOString(),
    incidentTimeSource: input.incidentTime ? 'flag' : 'restore start',
    recoveryPoint: Number.isNaN(point) ? { at: null, basis: input.recoveryPoint.at ? `unknown: unreadable time "${input.recoveryPoint.at}"` : input.recoveryPoint.basis } : input.recoveryPoint,
    newestRecoveredData: input.newestData,
  };
}
