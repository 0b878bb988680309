import type pg from 'pg';
import { LockHeldError } from '../engine/errors';
import { advisoryKey } from '../engine/lock';
import { inTransaction } from '../engine/transaction';
import type { Details, PhaseId } from './plan';

export type JournalEvent = 'start' | 'end' | 'fail' | 'note' | 'rollback' | 'rolled-back' | 'check';
const EVENTS = "('start', 'end', 'fail', 'note', 'rollback', 'rolled-back', 'check')";

export interface JournalRow {
  id: string;
  plan: string;
  scope: string;
  phase: PhaseId;
  event: JournalEvent;
  run: string;
  at: Date;
  ms: number | null;
  details: Details;
}

// Append-only: a trigger refuses UPDATE and DELETE (sqitch keeps an events table the same way).
// Run only when the table or its scope column is missing, so a second run never waits on
// the first one's open phase transaction for a lock on this table.
const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tickvault;
CREATE TABLE IF NOT EXISTS tickvault.migration_events (
  id bigserial PRIMARY KEY,
  plan text NOT NULL,
  phase text NOT NULL,
  event text NOT NULL,
  run text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ms integer,
  details jsonb NOT NULL DEFAULT '{}'
);
ALTER TABLE tickvault.migration_events ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT '';
ALTER TABLE tickvault.migration_events DROP CONSTRAINT IF EXISTS migration_events_event_check;
ALTER TABLE tickvault.migration_events ADD CONSTRAINT migration_events_event_check CHECK (event IN ${EVENTS});
DROP INDEX IF EXISTS tickvault.migration_events_plan_idx;
CREATE INDEX IF NOT EXISTS migration_events_scope_idx ON tickvault.migration_events (plan, scope, id);
CREATE OR REPLACE FUNCTION tickvault.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'tickvault.migration_events is append-only'; END $$;
DROP TRIGGER IF EXISTS migration_events_append_only ON tickvault.migration_events;
CREATE TRIGGER migration_events_append_only BEFORE UPDATE OR DELETE ON tickvault.migration_events
  FOR EACH ROW EXECUTE FUNCTION tickvault.append_only();
`;

const CURRENT = `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'migration_events_event_check' AND conrelid = to_regclass('tickvault.migration_events')
  AND pg_get_constraintdef(oid) LIKE '%note%') AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('tickvault.migration_events') AND attname = 'scope') AS ok`;

export interface PhaseState {
  phase: PhaseId;
  /** The phase's last event, if any. */
  last?: JournalEvent;
  at?: Date;
  /** Details of its last end, merged over the notes of attempts since its last rollback. */
  details: Details;
  /**
   * Since its last rollback, the phase may have changed data: it ended, it
   * journaled a note, or a non-transactional attempt started and did not fail
   * cleanly. A refused attempt, or a transactional one that failed or was
   * killed, changed nothing.
   */
  touched: boolean;
}

/** The migration journal in the target database, schema `tickvault`, keyed by plan and scope. */
export class Journal {
  constructor(private readonly client: pg.ClientBase, readonly plan: string, readonly scope: string, readonly run: string) {}

  static async open(client: pg.ClientBase, plan: string, scope: string, run: string): Promise<Journal> {
    if (!(await client.query<{ ok: boolean }>(CURRENT)).rows[0]?.ok) {
      const ddl = () => inTransaction(client, async () => {
        await client.query(`SELECT pg_advisory_xact_lock(${advisoryKey('tickvault:journal-ddl')})`);
        await client.query(SCHEMA);
      });
      await ddl().catch(async (error) => {
        // Concurrent first use: the DDL is idempotent; another run may have just done it.
        if (!(await client.query<{ ok: boolean }>(CURRENT)).rows[0]?.ok) throw error;
      });
    }
    return new Journal(client, plan, scope, run);
  }

  /** One run per plan and scope at a time: a session advisory lock on the target. */
  async lock(): Promise<void> {
    const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [lockKey(this.plan, this.scope).toString()]);
    if (!rows[0]?.ok) throw new LockHeldError(`another run of plan "${this.plan}"${this.scope ? ` for ${this.scope}` : ''} holds its lock on this database`);
  }

  /** Append an event; `via` writes it on another client (a phase's open transaction). */
  /** Append one event; returns its journaled time (what status and the safety window read back). */
  async append(phase: PhaseId, event: JournalEvent, details: Details = {}, ms?: number, via?: pg.ClientBase): Promise<Date> {
    const { rows } = await (via ?? this.client).query<{ at: Date }>('INSERT INTO tickvault.migration_events (plan, scope, phase, event, run, ms, details) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING at', [this.plan, this.scope, phase, event, this.run, ms ?? null, JSON.stringify(details)]);
    return rows[0]!.at;
  }

  async events(): Promise<JournalRow[]> {
    const { rows } = await this.client.query<JournalRow>('SELECT e.id::text AS id, plan, scope, phase, event, run, at, ms, details FROM tickvault.migration_events e WHERE plan = $1 AND scope = $2 ORDER BY e.id', [this.plan, this.scope]);
    return rows;
  }

  async state(): Promise<Map<PhaseId, PhaseState>> {
    return phaseStates(await this.events());
  }
}

export const lockKey = (plan: string, scope: string): bigint => advisoryKey(`tickvault:migration:${plan}:${scope}`);

/** Where each phase stands, from its events in order. */
export function phaseStates(events: JournalRow[]): Map<PhaseId, PhaseState> {
  const map = new Map<PhaseId, PhaseState & { open: boolean; notes: Details; ended: Details }>();
  for (const e of events) {
    if (e.event === 'check') continue; // parity checks during the window do not move a phase
    const s = map.get(e.phase) ?? { phase: e.phase, details: {}, touched: false, open: false, notes: {}, ended: {} };
    s.last = e.event;
    s.at = e.at;
    if (e.event === 'start') s.open = e.details.transaction !== true;
    else if (e.event === 'note') {
      s.touched = true;
      Object.assign(s.notes, e.details);
    } else if (e.event === 'end') {
      s.touched = true;
      s.open = false;
      s.ended = e.details;
    } else if (e.event === 'fail') {
      if (s.open && e.details.changed !== false) s.touched = true;
      s.open = false;
    } else if (e.event === 'rolled-back') {
      Object.assign(s, { touched: false, open: false, notes: {}, ended: {} });
    }
    s.details = { ...s.notes, ...s.ended };
    map.set(e.phase, s);
  }
  const out = new Map<PhaseId, PhaseState>();
  for (const [phase, s] of map) out.set(phase, { phase, last: s.last, at: s.at, details: s.details, touched: s.touched || s.open });
  return out;
}

export async function journalExists(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query("SELECT to_regclass('tickvault.migration_events') IS NOT NULL AS ok");
  return Boolean(rows[0]?.ok);
}
