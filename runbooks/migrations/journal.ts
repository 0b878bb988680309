import type pg from 'pg';
import { LockHeldError } from '../engine/errors';
import { advisoryKey } from '../engine/lock';
import type { PhaseId } from './plan';

export type JournalEvent = 'start' | 'end' | 'fail' | 'rollback' | 'rolled-back' | 'check';

export interface JournalRow {
  id: string;
  plan: string;
  phase: PhaseId;
  event: JournalEvent;
  run: string;
  at: Date;
  ms: number | null;
  details: Record<string, unknown>;
}

// Append-only: a trigger refuses UPDATE and DELETE (sqitch keeps an events table the same way).
const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tickvault;
CREATE TABLE IF NOT EXISTS tickvault.migration_events (
  id bigserial PRIMARY KEY,
  plan text NOT NULL,
  phase text NOT NULL,
  event text NOT NULL CHECK (event IN ('start', 'end', 'fail', 'rollback', 'rolled-back', 'check')),
  run text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ms integer,
  details jsonb NOT NULL DEFAULT '{}'
);
ALTER TABLE tickvault.migration_events DROP CONSTRAINT IF EXISTS migration_events_event_check;
ALTER TABLE tickvault.migration_events ADD CONSTRAINT migration_events_event_check CHECK (event IN ('start', 'end', 'fail', 'rollback', 'rolled-back', 'check'));
CREATE INDEX IF NOT EXISTS migration_events_plan_idx ON tickvault.migration_events (plan, id);
CREATE OR REPLACE FUNCTION tickvault.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'tickvault.migration_events is append-only'; END $$;
DROP TRIGGER IF EXISTS migration_events_append_only ON tickvault.migration_events;
CREATE TRIGGER migration_events_append_only BEFORE UPDATE OR DELETE ON tickvault.migration_events
  FOR EACH ROW EXECUTE FUNCTION tickvault.append_only();
`;

export interface PhaseState {
  phase: PhaseId;
  /** The phase's last event, if any. */
  last?: JournalEvent;
  at?: Date;
  details: Record<string, unknown>;
}

/** The migration journal in the target database, schema `tickvault`. */
export class Journal {
  constructor(private readonly client: pg.ClientBase, readonly plan: string, readonly run: string) {}

  static async open(client: pg.ClientBase, plan: string, run: string): Promise<Journal> {
    await client.query(`SELECT pg_advisory_xact_lock(${advisoryKey('tickvault:journal-ddl')}); ${SCHEMA}`).catch(async () => {
      // Concurrent first use: the DDL is idempotent, retry once outside the race.
      await client.query(SCHEMA);
    });
    return new Journal(client, plan, run);
  }

  /** One run per plan at a time: a session advisory lock on the target. */
  async lock(): Promise<void> {
    const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [advisoryKey(`tickvault:migration:${this.plan}`).toString()]);
    if (!rows[0]?.ok) throw new LockHeldError(`another run of plan "${this.plan}" holds its lock on this database`);
  }

  async append(phase: PhaseId, event: JournalEvent, details: Record<string, unknown> = {}, ms?: number): Promise<void> {
    await this.client.query('INSERT INTO tickvault.migration_events (plan, phase, event, run, ms, details) VALUES ($1, $2, $3, $4, $5, $6)', [this.plan, phase, event, this.run, ms ?? null, JSON.stringify(details)]);
  }

  async events(): Promise<JournalRow[]> {
    const { rows } = await this.client.query<JournalRow>('SELECT e.id::text AS id, plan, phase, event, run, at, ms, details FROM tickvault.migration_events e WHERE plan = $1 ORDER BY e.id', [this.plan]);
    return rows;
  }

  /** Where each phase stands: its last event and the details of its last end. */
  async state(): Promise<Map<PhaseId, PhaseState>> {
    const map = new Map<PhaseId, PhaseState>();
    for (const e of await this.events()) {
      if (e.event === 'check') continue; // parity checks during the window do not move a phase
      const prev = map.get(e.phase);
      map.set(e.phase, { phase: e.phase, last: e.event, at: e.at, details: e.event === 'end' ? e.details : (prev?.details ?? {}) });
    }
    return map;
  }
}

export async function journalExists(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query("SELECT to_regclass('tickvault.migration_events') IS NOT NULL AS ok");
  return Boolean(rows[0]?.ok);
}
