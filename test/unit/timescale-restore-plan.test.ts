import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../runbooks/engine/errors';
import { planTimescaleRestore, timescaleSettings } from '../../runbooks/stores/postgres/timescale';

describe('TimescaleDB restore planning (same version, or restore then update)', () => {
  const target = { defaultVersion: '2.28.3', availableVersions: ['2.27.0', '2.28.3'] };

  it('plain PostgreSQL backups need nothing', () => {
    expect(planTimescaleRestore(undefined, { defaultVersion: null, availableVersions: [] }, false)).toEqual({ createVersion: null, updateTo: null });
  });

  it('the same version restores as is', () => {
    expect(planTimescaleRestore('2.28.3', target, false)).toEqual({ createVersion: '2.28.3', updateTo: null });
  });

  it('a target that cannot create the extension is a configuration error naming the fix', () => {
    const attempt = () => planTimescaleRestore('2.28.3', { defaultVersion: null, availableVersions: ['2.28.3'] }, false);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/cannot create the extension.*shared_preload_libraries/);
  });

  it('a different version is refused unless the operator asks to restore then update', () => {
    expect(() => planTimescaleRestore('2.27.0', target, false)).toThrow(/2\.27\.0, the target server runs 2\.28\.3/);
    expect(planTimescaleRestore('2.27.0', target, true)).toEqual({ createVersion: '2.27.0', updateTo: '2.28.3' });
  });

  it('restore-then-update needs the backup version installable on the target', () => {
    expect(() => planTimescaleRestore('2.26.0', target, true)).toThrow(/needs TimescaleDB 2\.26\.0 installable/);
  });

  it('preloads with enough workers and telemetry off only when installed', () => {
    expect(timescaleSettings(true)).toEqual({ shared_preload_libraries: 'timescaledb', max_worker_processes: 32, 'timescaledb.telemetry_level': 'off' });
    expect(timescaleSettings(false)).toEqual({});
  });
});
