import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseEnvText } from '../../runbooks/engine/config';
import { dotenvEntries, formatValue, parseDotenv } from '../../runbooks/env/dotenv';

describe('the one dotenv parser', () => {
  it('formatValue output parses back to the same value, for awkward values', () => {
    const alphabet = ['a', 'Z', '0', ' ', '\t', '#', '"', "'", '\\', 'n', '\n', '\r', '=', '$', '`', 'é', '€'];
    const values = ['', ' lead', 'trail ', '#start', 'a #b', '\\n', '"q"', "'s'", 'a\\', '\\'];
    for (let i = 0; i < 2000; i++) {
      const len = crypto.randomInt(0, 12);
      values.push(Array.from({ length: len }, () => alphabet[crypto.randomInt(alphabet.length)]).join(''));
    }
    for (const value of values) {
      const [[, got] = ['', undefined]] = dotenvEntries(parseDotenv(`K=${formatValue(value)}\n`));
      expect(got, JSON.stringify(value)).toBe(value);
    }
  });

  it('the local settings file is read by the same parser', () => {
    expect(parseEnvText('export A="x # y"\r\nB=c#d # e\r\nB=last\n')).toEqual({ A: 'x # y', B: 'last' });
  });
});
