import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeLegacyPriceSources } from '../../runbooks/market-data/legacy-sources';
import { PLANS } from '../../runbooks/migrations/plans';
import { query } from '../helpers/databases';
import { migrationFixture, noSessionsLeft, plainHash } from '../helpers/migrate-fixtures';
import { runRunbook } from '../helpers/runbook';
import { buildSupabaseSource } from './fixtures/seed004-supabase';

// kill -9 at every phase boundary and inside phases, then a plain re-run: the
// end state equals an uninterrupted run's, by an independent plain-SQL hash.
// TICKVAULT_TEST_KILL_AT makes the migrate process SIGKILL itself at an exact
// point (start: start journaled; commit: work done, end not committed;
// others: checkpoints inside a phase), so no timing is involved.
// `npm test` kills inside phases and before each end commits; the `start`
// points (journaled start, nothing done yet) add about half the runtime and
// run in `npm run test:kill` (TICKVAULT_TEST_KILL_POINTS=all).
const fx = migrationFixture();
const EVERY_POINT = process.env.TICKVAULT_TEST_KILL_POINTS === 'all';

/** Points inside phases, per plan (where a phase loops over batches or files). */
const INSIDE: Record<string, Record<string, string[]>> = {
  'dxy-data-bars': { backfill: ['batch'] },
  'sqlite-price-log': { backfill: ['batch'], cleanup: ['moved'] },
  'ticks-to-timescale': { backfill: ['batch'] },
  'copy-table': { backfill: ['batch'] },
};

interface Setup {
  args: string[];
  /** The database whose end state is compared. */
  target: string;
  /** Files the plan reads (sqlite-price-log), compared too. */
  files?: string;
}

let supabaseSource: string | undefined;

async function setup(planId: string): Promise<Setup> {
  if (planId === 'supabase-to-timescale') {
    // One source for both runs: the fixture draws uuids and now()-relative times, and the plan never writes the source.
    if (!supabaseSource) {
      supabaseSource = await fx.empty('sb');
      await buildSupabaseSource(supabaseSource);
    }
    const source = supabaseSource;
    const target = await fx.empty('k');
    return { target, args: ['--source-url', source, '--target-url', target] };
  }
  if (planId === 'copy-table' || planId === 'ticks-to-timescale') {
    const source = await fx.seeded();
    const target = await fx.empty('k');
    return { target, args: ['--source-url', source, '--target-url', target, ...(planId === 'copy-table' ? ['--table', 'public.trades'] : [])] };
  }
  const target = await fx.seeded();
  if (planId === 'sqlite-price-log') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-kill-'));
    const legacy = await writeLegacyPriceSources(dir, { seed: 9, rows: 600, end: new Date('2026-01-18T00:00:00Z') });
    return { target, files: dir, args: ['--target-url', target, '--sqlite', legacy.sqlite, '--json-dir', legacy.jsonDir] };
  }
  return { target, args: ['--target-url', target] };
}

const listing = (dir: string | undefined): string => (dir ? fs.readdirSync(dir, { recursive: true }).map(String).sort().join(',') : '');

describe.each(PLANS.map((p) => [p.id, p] as const))('kill -9 then re-run: %s', (planId, plan) => {
  it('every phase, at start, inside, and before its end commits, ends where an uninterrupted run ends', { timeout: 600_000 }, async () => {
    const since = new Date();
    const migrate = (s: Setup, extra: NodeJS.ProcessEnv = {}) => runRunbook('migrate', ['run', '--plan', planId, '--all', '--safety-window', '0', '--json', ...s.args], { env: { ...fx.env, ...extra } });

    const reference = await setup(planId);
    const straight = await migrate(reference);
    expect(straight.code, straight.stdout).toBe(0);
    const expected = await plainHash(reference.target, since);

    const killed = await setup(planId);
    // Phases marked explicit (copy-table's cutover and cleanup) are not part of --all.
    const phases = plan.phases.filter((p) => !p.explicit);
    const points = phases.flatMap((p) => [...(EVERY_POINT ? ['start'] : []), ...(INSIDE[planId]?.[p.id] ?? []), 'commit'].map((point) => `${p.id}:${point}`));
    for (const point of points) {
      const run = await migrate(killed, { TICKVAULT_TEST_KILL_AT: point });
      expect(run.code, `${point}: the run should have been killed there\n${run.stdout.slice(-2000)}`).toBe(-1);
      await noSessionsLeft(fx.stack.postgresUrl, killed.target);
    }
    const finish = await migrate(killed);
    expect(finish.code, finish.stdout).toBe(0);
    expect(await plainHash(killed.target, since)).toBe(expected);
    expect(listing(killed.files).replace(/tv-kill-\w+/g, '')).toBe(listing(reference.files).replace(/tv-kill-\w+/g, ''));
    // Every phase ran exactly once to its end.
    const ends = await query<{ phase: string; n: string }>(killed.target, "SELECT phase, count(*)::text AS n FROM tickvault.migration_events WHERE event = 'end' GROUP BY phase");
    expect(Object.fromEntries(ends.map((e) => [e.phase, e.n]))).toEqual(Object.fromEntries(phases.map((p) => [p.id, '1'])));
  });
});
