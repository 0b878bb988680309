import { describe, expect, it } from 'vitest';
import { LAG_GROWTH_FLOOR, lagGrew } from '../../runbooks/migrations/cdc/lag';

// The rule behind watch's "replication lag grew" warning (integration: test/integration/cdc-lag.test.ts).
const p = (pendingChanges: number | null) => ({ pendingChanges });

describe('lagGrew', () => {
  it('warns when the backlog is half again as large and larger by the floor', () => {
    expect(lagGrew(p(150), p(1500))).toBe(true);
    expect(lagGrew(p(0), p(LAG_GROWTH_FLOOR))).toBe(true);
    expect(lagGrew(p(1000), p(1500))).toBe(true);
  });

  it('says nothing for flat, shrinking, zero or small noise', () => {
    expect(lagGrew(p(0), p(0))).toBe(false);
    expect(lagGrew(p(150), p(150))).toBe(false);
    expect(lagGrew(p(1500), p(150))).toBe(false);
    expect(lagGrew(p(1000), p(1499))).toBe(false);
    expect(lagGrew(p(10), p(60))).toBe(false);
  });

  it('says nothing without a previous check or when a count is unknown (slot busy)', () => {
    expect(lagGrew(undefined, p(10_000))).toBe(false);
    expect(lagGrew(p(null), p(10_000))).toBe(false);
    expect(lagGrew(p(100), p(null))).toBe(false);
  });
});
