import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../runbooks/engine/duration';
import { PLANS } from '../../runbooks/migrations/plans';
import { lossPredicate } from '../../runbooks/migrations/plans/value-survival';

const root = path.resolve(import.meta.dirname, '..', '..');
const sources = (dir: string): string[] =>
  fs.readdirSync(path.join(root, dir), { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));

/** Relative imports of every file under runbooks/, read as text (independent of the compiler). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources('runbooks')) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const deps = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)].map((m) => {
      const target = path.join(path.dirname(file), m[1]!);
      return fs.existsSync(path.join(root, `${target}.ts`)) ? `${target}.ts` : path.join(target, 'index.ts');
    });
    graph.set(file, deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 1);
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (state.get(dep) === 1) found.push([...stack.slice(stack.indexOf(dep)), dep].join(' -> '));
      else if (!state.get(dep)) visit(dep);
    }
    stack.pop();
    state.set(node, 2);
  };
  for (const node of graph.keys()) if (!state.get(node)) visit(node);
  return found;
}

describe('migration engine structure', () => {
  it('no import cycle runs through the engine, migrations or env (journal.ts and plan.ts included)', () => {
    const found = cycles(importGraph());
    expect(found).toEqual([]);
  });

  it('exactly one transaction helper; no migration code writes BEGIN, COMMIT or ROLLBACK itself', () => {
    const helpers = sources('runbooks').filter((f) => /function inTransaction\b/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(helpers).toEqual(['runbooks/engine/transaction.ts']);
    const offenders = sources('runbooks/migrations')
      .filter((f) => /\b(BEGIN|COMMIT|ROLLBACK|SAVEPOINT)\s*[;'"`]|['"`]\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT)\b/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('stores/ never reaches into the local stack: restore targets are injected by recovery/', () => {
    const offenders = sources('runbooks/stores').filter((f) => /from '(\.\.\/)+local\//.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('one masker: no separate redact helper', () => {
    expect(sources('runbooks').filter((f) => /\bconst redact\b|function redact\b/.test(fs.readFileSync(path.join(root, f), 'utf8')))).toEqual([]);
  });

  it('every plan is typed data: own strict options, each phase declares transaction and idempotency; cleanup has dual-write and parity', () => {
    for (const plan of PLANS) {
      expect(plan.options.safeParse({ bogus: 'x' }).success, plan.id).toBe(false);
      for (const phase of plan.phases) {
        expect(typeof phase.transaction, `${plan.id}/${phase.id}`).toBe('boolean');
        // A phase that is neither would be refused on every re-run after a crash: none ships like that.
        expect(phase.transaction || phase.idempotent, `${plan.id}/${phase.id}`).toBe(true);
      }
      if (plan.phases.some((p) => p.id === 'cleanup')) {
        expect(plan.parity, plan.id).toBeTypeOf('function');
        expect(plan.phases.findIndex((p) => p.id === 'dual-write'), plan.id).toBeLessThan(plan.phases.findIndex((p) => p.id === 'cleanup'));
      }
    }
  });

  it('durations: one parser, 0 accepted with or without a unit, bare numbers refused', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(() => parseDuration('5')).toThrow(/not a duration/);
    expect(() => parseDuration('-1h')).toThrow(/not a duration/);
    const definitions = sources('runbooks').filter((f) => /function parseDuration\b/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(definitions).toEqual(['runbooks/engine/duration.ts']);
  });

  it('value survival predicates cover scale, precision, integer range and length', () => {
    expect(lossPredicate('x', 'numeric(18,2)')).toContain('round');
    expect(lossPredicate('x', 'integer')).toContain('2147483647');
    expect(lossPredicate('x', 'character varying(12)')).toContain('> 12');
    expect(lossPredicate('x', 'text')).toBeNull();
  });
});
