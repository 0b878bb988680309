import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { countsFor, tableSources, type GenContext } from '../../runbooks/market-data/generators';
import { dxy, FX_PAIRS } from '../../runbooks/market-data/instruments';
import { SEED_TABLES } from '../../runbooks/market-data/schema';

const ctx = (seed: number, scale = 0.01): GenContext => ({ seed, counts: countsFor(scale), end: new Date('2026-01-18T00:00:00Z') });

function digest(context: GenContext): Record<string, string> {
  const sources = tableSources(context);
  return Object.fromEntries(
    SEED_TABLES.map((table) => {
      const hash = crypto.createHash('sha256');
      for (const chunk of sources[table].chunks()) hash.update(chunk);
      return [table, hash.digest('hex')];
    }),
  );
}

describe('market-data generator', () => {
  it('scale 1 has seed 004 figures', () => {
    const c = countsFor(1);
    expect([c.ticks, c.users, c.trades, c.patterns]).toEqual([804_800, 11, 843, 7_011]);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = digest(ctx(7));
    expect(digest(ctx(7))).toEqual(a);
    const b = digest(ctx(8));
    for (const table of ['data_bars', 'tick_data', 'trades']) expect(b[table]).not.toBe(a[table]);
  });

  it('emits exactly the row count it announces, with the right column count', () => {
    const sources = tableSources(ctx(1));
    const columns: Record<string, number> = { data_bars: 14, derived_data_bars: 16, tick_data: 7, trades: 12, atge_trade_signals: 19 };
    for (const table of SEED_TABLES) {
      const lines = [...sources[table].chunks()].join('').split('\n').filter(Boolean);
      expect(lines.length, table).toBe(sources[table].rows);
      if (columns[table]) expect(lines[0]!.split('\t').length, table).toBe(columns[table]);
    }
  });

  it('puts DXY from the generated FX closes near 100 at real levels', () => {
    const levels = Object.fromEntries(FX_PAIRS.map((p) => [p.symbol, p.level])) as Parameters<typeof dxy>[0];
    expect(dxy(levels)).toBeGreaterThan(95);
    expect(dxy(levels)).toBeLessThan(105);
    const derived = [...tableSources(ctx(3, 0.05)).derived_data_bars.chunks()].join('').split('\n').filter(Boolean);
    const closes = derived.map((l) => Number(l.split('\t')[6]));
    expect(Math.min(...closes)).toBeGreaterThan(90);
    expect(Math.max(...closes)).toBeLessThan(110);
  });
});
