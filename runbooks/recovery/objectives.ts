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

export interface ObjectivesReport {
  scenario: Scenario;
  rtoMs: number;
  rpoMs: number | null;
  rtoTargetMs: number;
  rpoTargetMs: number;
  rtoMet: boolean;
  rpoMet: boolean;
  incidentTime: string;
  incidentTimeSource: 'flag' | 'restore start';
  newestRecoveredData: string | null;
}

/** RTO: start to verified. RPO: incident time minus the newest recovered data. */
export function measureObjectives(input: { scenario: Scenario; startedAt: number; verifiedAt: number; incidentTime?: Date; newestData: string | null; override?: string }): ObjectivesReport {
  const targets = objectivesFor(input.scenario, input.override);
  const incident = input.incidentTime ?? new Date(input.startedAt);
  const rtoMs = input.verifiedAt - input.startedAt;
  const rpoMs = input.newestData ? Math.max(0, incident.getTime() - Date.parse(input.newestData)) : null;
  return {
    scenario: input.scenario,
    rtoMs,
    rpoMs,
    rtoTargetMs: targets.rtoMs,
    rpoTargetMs: targets.rpoMs,
    rtoMet: rtoMs <= targets.rtoMs,
    rpoMet: rpoMs !== null && rpoMs <= targets.rpoMs,
    incidentTime: incident.toISOString(),
    incidentTimeSource: input.incidentTime ? 'flag' : 'restore start',
    newestRecoveredData: input.newestData,
  };
}
