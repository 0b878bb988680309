import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../runbooks/repository/manifest';
import { logicalRestoreCommands } from '../../runbooks/stores/postgres/logical-restore';
import { TIMESCALE_CATALOG_DATA } from '../../runbooks/stores/postgres/timescale';
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

  it("TimescaleDB: extension, pre_restore, pg_restore (catalog serial, data and post-data parallel), post_restore, in Timescale's order", () => {
    const commands = logicalRestoreCommands(manifest({ timescaledb: '2.17.2' }), opts);
    expect(commands.map((c) => (c.kind === 'sql' ? c.sql : `${c.section} ${c.argv.find((a) => a.startsWith('--jobs'))}`))).toEqual([
      "CREATE EXTENSION IF NOT EXISTS timescaledb VERSION '2.17.2'",
      'SELECT timescaledb_pre_restore()',
      'pre-data --jobs=1',
      'data --jobs=2',
      'post-data --jobs=2',
      'SELECT timescaledb_post_restore()',
    ]);
  });
});

describe('TimescaleDB data: its catalog serially first, chunks in parallel', () => {
  // Lines of `pg_restore --list` of a TimescaleDB 2.28 dump (compressed chunk, continuous aggregate).
  const serial = ['3708; 0 28763 TABLE DATA _timescaledb_catalog hypertable me', '3712; 0 28812 TABLE DATA _timescaledb_catalog chunk me', '3719; 0 28873 TABLE DATA _timescaledb_catalog bgw_job me', '4015; 0 0 SEQUENCE SET _timescaledb_catalog chunk_id_seq me', '4020; 0 0 TABLE DATA _timescaledb_config bgw_job me'];
  const parallel = ['3999; 0 29440 TABLE DATA _timescaledb_internal _hyper_1_1_chunk me', '4005; 0 29468 TABLE DATA _timescaledb_internal compress_hyper_2_6_chunk me', '3998; 0 29436 TABLE DATA public t me', '4100; 0 1 TABLE DATA public _timescaledb_catalog me', '214; 1259 25883 TABLE _timescaledb_catalog chunk me'];
  it.each(serial)('serial: %s', (line) => expect(TIMESCALE_CATALOG_DATA.test(line)).toBe(true));
  it.each(parallel)('not in the catalog pass: %s', (line) => expect(TIMESCALE_CATALOG_DATA.test(line)).toBe(false));
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
