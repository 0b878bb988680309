import { describe, expect, it } from 'vitest';
import { postgresUrl, validated } from '../../runbooks/engine/config';
import { durationWithDaysAlias } from '../../runbooks/engine/duration';
import { UsageError } from '../../runbooks/engine/errors';
import { cleanupSchedule, describeMoment } from '../../runbooks/migrations/safety-window';

describe('--retention and its deprecated --retention-days alias', () => {
  it('takes durations, and the old whole-days spelling with a deprecation note', () => {
    expect(durationWithDaysAlias({}, 'retention', 'retention-days', '30d')).toEqual({ ms: 30 * 86_400_000 });
    expect(durationWithDaysAlias({ retention: '12h' }, 'retention', 'retention-days', '30d')).toEqual({ ms: 12 * 3_600_000 });
    const old = durationWithDaysAlias({ 'retention-days': '7' }, 'retention', 'retention-days', '30d');
    expect(old.ms).toBe(7 * 86_400_000);
    expect(old.deprecated).toBe('--retention-days 7 is deprecated: use --retention 7d');
  });

  it('refuses both at once, a unit on the old flag, and a bare number on the new one', () => {
    expect(() => durationWithDaysAlias({ retention: '7d', 'retention-days': '7' }, 'retention', 'retention-days', '30d')).toThrow(UsageError);
    expect(() => durationWithDaysAlias({ 'retention-days': '7d' }, 'retention', 'retention-days', '30d')).toThrow(/--retention-days must be a number of days/);
    expect(() => durationWithDaysAlias({ retention: '30' }, 'retention', 'retention-days', '30d')).toThrow(/--retention: not a duration/);
  });
});

describe('URL settings without zod', () => {
  it('accepts postgres URLs and names the setting otherwise', () => {
    expect(validated('DATABASE_URL', postgresUrl, 'postgresql://u@h/db')).toBe('postgresql://u@h/db');
    expect(() => validated('DATABASE_URL', postgresUrl, 'mysql://h/db')).toThrow(/DATABASE_URL: must be a URL starting with postgres:\/\/ or postgresql:\/\//);
    expect(() => validated('--target-url', postgresUrl, 'not a url')).toThrow(/--target-url/);
  });
});

describe('cleanup schedule', () => {
  const ended = new Date('2026-11-22T08:00:00Z');
  it('names the absolute time cleanup is allowed from', () => {
    expect(cleanupSchedule(ended, false, 86_400_000, Date.parse('2026-11-22T09:00:00Z'))).toEqual({ state: 'waiting', allowedAt: '2026-11-23T08:00:00.000Z', windowMs: 86_400_000 });
    expect(cleanupSchedule(ended, false, 86_400_000, Date.parse('2026-11-23T08:00:00Z')).state).toBe('allowed');
    expect(cleanupSchedule(undefined, false, 86_400_000).state).toBe('needs-dual-write');
    expect(cleanupSchedule(ended, true, 86_400_000).state).toBe('done');
    expect(describeMoment(new Date('2026-11-23T08:00:00Z'), Date.parse('2026-11-22T09:00:00Z'))).toMatch(/^2026-11-23T08:00:00Z \(.+ local, in 23 h\)$/);
  });
});
