import { describe, expect, it } from 'vitest';
import type { BackupEntry, Manifest } from '../../runbooks/repository/manifest';
import { planPrune } from '../../runbooks/repository/retention';

const now = new Date('2026-06-30T00:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();

function entry(id: string, age: number, opts: { ok?: boolean; store?: 'postgres' | 'redis'; kind?: Manifest['kind'] } = {}): BackupEntry {
  const manifest = { id, store: opts.store ?? 'postgres', kind: opts.kind ?? 'logical', finishedAt: daysAgo(age) } as Manifest;
  return { manifest, ...(opts.ok === undefined ? {} : { verification: { id, at: daysAgo(age), ok: opts.ok, run: 'r', problems: [] } }) };
}

describe('retention', () => {
  it('deletes what is past the window and covered by a newer verified backup', () => {
    const plan = planPrune([entry('a', 45), entry('b', 31), entry('c', 10, { ok: true }), entry('d', 1)], now, 30);
    expect(plan.delete.map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('never deletes the newest verified backup, however old', () => {
    const plan = planPrune([entry('older', 500), entry('old', 400, { ok: true })], now, 30);
    expect(plan.delete.map((d) => d.id)).toEqual(['older']);
    expect(plan.keep.find((k) => k.id === 'old')?.reason).toBe('newest verified backup');
  });

  it('a newer backup that was never verified covers nothing (it may be truncated)', () => {
    const plan = planPrune([entry('verified', 60, { ok: true }), entry('unverified', 2)], now, 30);
    expect(plan.delete).toHaveLength(0);
    const none = planPrune([entry('x', 90), entry('y', 60)], now, 30);
    expect(none.delete).toHaveLength(0);
  });

  it('a newer backup that failed verification covers nothing', () => {
    const plan = planPrune([entry('good', 60, { ok: true }), entry('bad', 2, { ok: false })], now, 30);
    expect(plan.delete).toHaveLength(0);
    expect(plan.keep.map((k) => k.id).sort()).toEqual(['bad', 'good']);
  });

  it('stores and kinds are judged separately', () => {
    const plan = planPrune([entry('pg', 90), entry('redis-old', 90, { store: 'redis', kind: 'rdb' }), entry('redis-new', 1, { store: 'redis', kind: 'rdb', ok: true }), entry('phys', 90, { kind: 'physical' })], now, 30);
    expect(plan.delete.map((d) => d.id)).toEqual(['redis-old']);
  });
});
