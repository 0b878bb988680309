import { describe, expect, it } from 'vitest';
import type { BackupEntry, Manifest } from '../../runbooks/repository/manifest';
import { planPrune } from '../../runbooks/repository/retention';

const now = new Date('2026-06-30T00:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();

function entry(id: string, age: number, opts: { ok?: boolean; store?: 'postgres' | 'redis'; kind?: Manifest['kind'] } = {}): BackupEntry {
  const manifest = { id, store: opts.store ?? 'postgres', kind: opts.kind ?? 'logical', finishedAt: daysAgo(age) } as Manifest;
  return { manifest, ...(opts.ok === undefined ? {} : { verification: { at: daysAgo(age), ok: opts.ok, run: 'r', problems: [] } }) };
}

describe('retention', () => {
  it('deletes what is past the window and covered by a newer good backup', () => {
    const plan = planPrune([entry('a', 45), entry('b', 31), entry('c', 10), entry('d', 1)], now, 30);
    expect(plan.delete.map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('never deletes the newest good backup, however old', () => {
    const plan = planPrune([entry('old', 400), entry('older', 500)], now, 30);
    expect(plan.delete.map((d) => d.id)).toEqual(['older']);
    expect(plan.keep.find((k) => k.id === 'old')?.reason).toBe('newest good backup');
  });

  it('a newer backup that failed verification covers nothing', () => {
    const plan = planPrune([entry('good', 60), entry('bad', 2, { ok: false })], now, 30);
    expect(plan.delete).toHaveLength(0);
    expect(plan.keep.map((k) => k.id).sort()).toEqual(['bad', 'good']);
  });

  it('stores and kinds are judged separately', () => {
    const plan = planPrune([entry('pg', 90), entry('redis-old', 90, { store: 'redis', kind: 'rdb' }), entry('redis-new', 1, { store: 'redis', kind: 'rdb' }), entry('phys', 90, { kind: 'physical' })], now, 30);
    expect(plan.delete.map((d) => d.id)).toEqual(['redis-old']);
  });
});
