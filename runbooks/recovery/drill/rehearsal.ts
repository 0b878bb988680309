import path from 'node:path';
import pg from 'pg';
import { PLANS } from '../../migrations/plans';
import { withClient } from '../../stores/postgres/connect';
import { databaseFingerprint } from '../../stores/postgres/fingerprint';
import { withDatabase } from '../../stores/postgres/binaries';
import { quoteIdent } from '../../stores/postgres/sql';
import { invokeRunbook } from './invoke';

export interface Rehearsal {
  plan: string;
  source: string;
  forward: { exitCode: number; ms: number; phases: string[] };
  rollback: { exitCode: number; ms: number };
  hashBefore: string;
  hashAfter: string;
  passed: boolean;
  error?: string;
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const hashOf = async (url: string): Promise<string> => (await withClient(url, databaseFingerprint)).hash;

/** Plans the seeded drill database cannot stand in for, with the reason (listed as skipped in the report). */
export const NOT_REHEARSED: Record<string, string> = {
  'supabase-to-timescale': 'needs a Supabase-shaped source (auth schema, anon/authenticated/service_role, RLS), which the seeded drill database is not; it runs end to end with rollback in test/integration/seed004-migration.test.ts',
};

/**
 * Each plan forward (all phases, no safety window) on a copy of the seeded
 * database, then rolled back; the database must hash as it did before.
 */
export async function rehearseMigrations(databaseUrl: string, env: Record<string, string>, legacy: { sqlite: string; jsonDir: string }): Promise<Rehearsal[]> {
  const template = new URL(databaseUrl).pathname.slice(1);
  const results: Rehearsal[] = [];
  for (const plan of PLANS.filter((p) => !(p.id in NOT_REHEARSED))) {
    const name = `rehearse_${plan.id.replace(/-/g, '_')}`;
    const clone = withDatabase(databaseUrl, name);
    const target = plan.crossDatabase && plan.id !== 'sqlite-price-log' ? withDatabase(databaseUrl, `${name}_target`) : clone;
    await admin(databaseUrl, async (c) => {
      for (const db of [name, `${name}_target`]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      // The template must have no other sessions while it is copied; the
      // TimescaleDB scheduler reconnects at once unless connections are refused.
      await c.query(`ALTER DATABASE ${quoteIdent(template)} WITH ALLOW_CONNECTIONS false`);
      try {
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [template]);
        await c.query(`CREATE DATABASE ${name} TEMPLATE ${quoteIdent(template)}`);
      } finally {
        await c.query(`ALTER DATABASE ${quoteIdent(template)} WITH ALLOW_CONNECTIONS true`);
      }
      if (target !== clone) await c.query(`CREATE DATABASE ${name}_target`);
    });
    const hashBefore = await hashOf(target);
    const common = ['--plan', plan.id, '--source-url', clone, '--target-url', target];
    const extra = plan.id === 'copy-table' ? ['--table', 'public.trades'] : plan.id === 'sqlite-price-log' ? ['--sqlite', legacy.sqlite, '--json-dir', legacy.jsonDir] : [];
    const forward = await invokeRunbook('migrate', ['run', '--all', '--safety-window', '0s', ...common, ...extra], env);
    const rollback = await invokeRunbook('migrate', ['rollback', '--yes', ...common, ...extra], env);
    const hashAfter = await hashOf(target);
    const passed = forward.exitCode === 0 && rollback.exitCode === 0 && hashAfter === hashBefore;
    results.push({
      plan: plan.id,
      source: plan.source,
      forward: { exitCode: forward.exitCode, ms: forward.ms, phases: (forward.summary.ran as string[] | undefined) ?? [] },
      rollback: { exitCode: rollback.exitCode, ms: rollback.ms },
      hashBefore,
      hashAfter,
      passed,
      ...(passed ? {} : { error: forward.summary.error?.message ?? rollback.summary.error?.message ?? 'content hash differs after rollback' }),
    });
    await admin(databaseUrl, async (c) => {
      for (const db of [name, `${name}_target`]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    });
  }
  return results;
}

export const legacyDirOf = (home: string): string => path.join(home, 'legacy');
