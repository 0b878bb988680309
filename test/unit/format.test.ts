import { describe, expect, it } from 'vitest';
import { formatCount, formatMs } from '../../runbooks/engine/format';

describe('one format for durations and counts', () => {
  it.each([
    [850, '850 ms'],
    [12_400, '12.4 s'],
    [59_999, '1 min 00 s'],
    [185_000, '3 min 05 s'],
    [3_599_600, '1 h'],
    [3_600_000, '1 h'],
    [7_500_000, '2 h 05 min'],
    [86_400_000, '24 h'],
    [86_340_000 + 59_000, '24 h'],
    [30 * 86_400_000, '30 d'],
    [93_600_000, '26 h'],
    [187_200_000, '2 d 4 h'],
  ])('%d ms is "%s"', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  it('never prints 60 s or 60 min', () => {
    for (let ms = 0; ms < 3 * 86_400_000; ms += 997) expect(formatMs(ms)).not.toMatch(/\b60 (s|min)\b/);
  });

  it('groups thousands', () => {
    expect(formatCount(1234, 'rows')).toBe('1,234 rows');
    expect(formatCount(7)).toBe('7');
  });
});
