import { describe, expect, it } from 'vitest';
import { MASK, Masker } from '../../runbooks/engine/mask';

describe('Masker', () => {
  it('masks the password of any URL, even one it was never told about', () => {
    const m = new Masker();
    expect(m.mask('postgres://app:hunter22@db:5432/x and redis://default:s3cr3t!@r:6379')).toBe(`postgres://app:${MASK}@db:5432/x and redis://default:${MASK}@r:6379`);
  });

  it('masks registered secrets in raw, URL-encoded and JSON-escaped forms', () => {
    const secret = 'p@ss "word"/é';
    const m = new Masker().add(secret);
    expect(m.mask(`raw ${secret}`)).toBe(`raw ${MASK}`);
    expect(m.mask(`enc ${encodeURIComponent(secret)}`)).toBe(`enc ${MASK}`);
    expect(m.mask(JSON.stringify({ v: secret }))).toBe(JSON.stringify({ v: MASK }));
  });

  it('registers secret-looking env entries and URL passwords from env', () => {
    const m = new Masker().addFromEnv({ API_TOKEN: 'tok-123456', DATABASE_URL: 'postgres://u:pw-abcdef@h/d', PLAIN: 'visible-value' });
    const out = m.mask('tok-123456 pw-abcdef visible-value');
    expect(out).toBe(`${MASK} ${MASK} visible-value`);
  });

  it('masks conninfo passwords and walks structured values', () => {
    const m = new Masker().add('abcd1234');
    expect(m.mask('host=x password=zzz9 user=y')).toBe(`host=x password=${MASK} user=y`);
    expect(m.maskValue({ a: ['abcd1234'], b: 1 })).toEqual({ a: [MASK], b: 1 });
  });

  it('does not register trivially short secrets (they would mask ordinary text)', () => {
    expect(new Masker().add('ab').mask('abc')).toBe('abc');
  });
});

describe('structured masking', () => {
  it('masks string leaves but never object keys, so NDJSON keeps its shape', () => {
    const m = new Masker().add('summary').add('hunter2-secret');
    const line = m.maskJson({ event: 'summary', message: 'pw hunter2-secret', nested: { summary: ['x summary'] } });
    expect(JSON.parse(line)).toEqual({ event: MASK, message: `pw ${MASK}`, nested: { summary: [`x ${MASK}`] } });
  });

  it('does not register short environment values (they are configuration, not secrets)', () => {
    expect(new Masker().addEnvValue('info').mask('level info')).toBe('level info');
    expect(new Masker().addEnvValue('s3cr3t-value').mask('v=s3cr3t-value')).toBe(`v=${MASK}`);
  });
});
