import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runbooks/repository/manifest';
import { logicalRestoreCommands } from '../../runbooks/stores/postgres/logical-restore';
import { measureObjectives, objectivesFor } from '../../runbooks/recovery/objectives';
import { snapshotCompatible } from '../../runbooks/stores/qdrant/client';

const manifest = (extensions: Record<string, string>) => ({ server: { version: '15.8', extensions } }) as unknown as Manifest;
const opts = { dumpDir: '/tmp/dump', conninfo: 'postgres://u@h/db', jobs: 2 };

describe('logical restore commands', () => {
  it('plain PostgreSQL: parallel pg_restore by section, post-data last (verification overlaps it)', () => {
    const commands = logicalRestoreCommands(manifest({}), opts);
    expect(commands.map((c) => (c.kind === 'exec' ? c.section : c.kind))).toEqual(['pre-data', 'data', 'post-data']);
    for (const c of commands) expect(c).toMatchObject({ kind: 'exec', argv: expect.arrayContaining(['--jobs=2', '--exit-on-error', '/tmp/dump']) });
  });

  it("TimescaleDB: extension, pre_restore, serial pg_restore, post_restore, in Timescale's order", () => {
    const commands = logicalRestoreCommands(manifest({ timescaledb: '2.17.2' }), opts);
    expect(commands.map((c) => (c.kind === 'sql' ? c.sql : c.argv.find((a) => a.startsWith('--jobs'))))).toEqual([
      "CREATE EXTENSION IF NOT EXISTS timescaledb VERSION '2.17.2'",
      'SELECT timescaledb_pre_restore()',
      '--jobs=1',
      'SELECT timescaledb_post_restore()',
    ]);
  });
});

describe('RTO/RPO objectives', () => {
  it("uses seed 004's targets and flags a miss", () => {
    expect(objectivesFor('corruption')).toEqual({ rtoMs: 7_200_000, rpoMs: 3_600_000 });
    expect(objectivesFor('deletion')).toEqual({ rtoMs: 3_600_000, rpoMs: 86_400_000 });
    const report = measureObjectives({ scenario: 'full-failure', startedAt: 0, verifiedAt: 5 * 3_600_000, incidentTime: new Date(10_000), recoveryPoint: { at: new Date(0).toISOString(), basis: 'snapshot' }, newestData: null });
    expect(report).toMatchObject({ rtoMet: false, rpoMet: true, rpoMs: 10_000 });
  });

  it('measures RPO from the recovery point, not the newest row; unknown is not a miss', () => {
    const incident = new Date('2026-06-01T12:00:00Z');
    // Quiet for months: the newest row is old, but the snapshot was taken 10 minutes before the incident.
    const quiet = measureObjectives({ scenario: 'corruption', startedAt: incident.getTime(), verifiedAt: incident.getTime() + 1000, incidentTime: incident, recoveryPoint: { at: '2026-06-01T11:50:00Z', basis: 'snapshot time of the dump' }, newestData: '2026-01-01T00:00:00Z' });
    expect(quiet).toMatchObject({ rpoMs: 600_000, rpoMet: true, newestRecoveredData: '2026-01-01T00:00:00Z' });
    const late = measureObjectives({ scenario: 'corruption', startedAt: incident.getTime(), verifiedAt: incident.getTime() + 1000, incidentTime: incident, recoveryPoint: { at: '2026-06-01T10:00:00Z', basis: 'snapshot' }, newestData: null });
    expect(late).toMatchObject({ rpoMs: 7_200_000, rpoMet: false });
    const unknown = measureObjectives({ scenario: 'corruption', startedAt: 0, verifiedAt: 1, recoveryPoint: { at: null, basis: 'unknown: old manifest' }, newestData: null });
    expect(unknown).toMatchObject({ rpoMs: null, rpoMet: null, recoveryPoint: { basis: 'unknown: old manifest' } });
  });

  it('takes overrides from TICKVAULT_OBJECTIVES and names a bad key', () => {
    expect(objectivesFor('deletion', JSON.stringify({ deletion: { rto: '5m', rpo: '1h' } }))).toEqual({ rtoMs: 300_000, rpoMs: 3_600_000 });
    expect(() => objectivesFor('deletion', JSON.stringify({ deletion: { rto: 'soon', rpo: '1h' } }))).toThrow(/TICKVAULT_OBJECTIVES.deletion/);
  });
});

describe('Qdrant snapshot compatibility', () => {
  it('same version or the next minor only', () => {
    expect(snapshotCompatible('1.12.4', '1.12.0')).toBe(true);
    expect(snapshotCompatible('1.12.4', '1.13.1')).toBe(true);
    expect(snapshotCompatible('1.12.4', '1.14.0')).toBe(false);
    expect(snapshotCompatible('1.12.4', '1.11.9')).toBe(false);
  });
});
