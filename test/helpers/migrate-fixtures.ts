import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { expect, inject } from 'vitest';
import { Settings } from '../../runbooks/engine/config';
import { Masker } from '../../runbooks/engine/mask';
import { Run } from '../../runbooks/engine/run';
import type { EngineSettings } from '../../runbooks/migrations/plan';
import { cloneDatabase, createDatabase, query } from './databases';
import { runRunbook } from './runbook';
import { stackEnv } from './stack-env';

/** Shared setup of the migration tests: a seeded template, a private backup repository and env. */
export function migrationFixture() {
  const stack = inject('stack');
  const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-repo-'));
  const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
  let template: string | undefined;

  /** A seeded database, cloned from a template seeded once (CREATE DATABASE … TEMPLATE). */
  async function seeded(): Promise<string> {
    if (!template) {
      const url = await createDatabase(stack.postgresUrl, 'tpl');
      const seed = await runRunbook('seed', ['--json', '--database-url', url, '--scale', '0.01'], { env });
      expect(seed.code, seed.stderr).toBe(0);
      template = new URL(url).pathname.slice(1);
    }
    const name = `m_${Math.random().toString(16).slice(2, 10)}`;
    await cloneDatabase(stack.postgresUrl, template, name);
    const url = new URL(stack.postgresUrl);
    url.pathname = `/${name}`;
    return url.toString();
  }

  const empty = (prefix = 'e') => createDatabase(stack.postgresUrl, prefix);
  const engine = (target: string, source = target, safetyWindowMs = 0): EngineSettings => ({ sourceUrl: source, targetUrl: target, safetyWindowMs, jobs: 2, backup: { config: new Settings(env, {}) } });
  return { stack, env, repoDir, seeded, empty, engine };
}

/** Run the engine in-process with a quiet run (no terminal, no audit); events are collected. */
export async function inProcess<T>(fn: (run: Run) => Promise<T>, events: Record<string, unknown>[] = []): Promise<T> {
  const sink = new PassThrough();
  sink.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  const run = new Run({ runbook: 'migrate', json: true, dryRun: false, yes: true, masker: new Masker(), stdout: sink, stderr: sink, audit: false });
  try {
    const result = await fn(run);
    await run.finish({});
    return result;
  } catch (error) {
    await run.finish({ error });
    throw error;
  }
}

/**
 * An independent content hash of a database, plain SQL only (shares no code
 * with tickvault): every user table's rows (order-independent), its columns
 * and types, view definitions and triggers. The engine's own bookkeeping
 * (schema tickvault) is left out, and timestamps at or after `since` (the
 * migration's own now()) read as "recent", so two runs at different times compare.
 */
export async function plainHash(url: string, since: Date): Promise<string> {
  const tables = await query<{ s: string; t: string; cols: { n: string; ty: string }[] }>(url, `
    SELECT n.nspname AS s, c.relname AS t,
           json_agg(json_build_object('n', a.attname, 'ty', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum) AS cols
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tickvault') AND n.nspname NOT LIKE 'pg\\_%'
       -- an extension's own tables (TimescaleDB's catalog, chunks and materialisations) are its business, not the migration's
       AND n.nspname !~ '^_?timescaledb' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     GROUP BY 1, 2 ORDER BY 1, 2`);
  const parts: string[] = [];
  for (const { s, t, cols } of tables) {
    const q = (x: string) => `"${x.replace(/"/g, '""')}"`;
    const expr = cols.map(({ n, ty }) => (/^timestamp/.test(ty) ? `CASE WHEN ${q(n)} >= $1 THEN 'recent' ELSE ${q(n)}::text END` : `${q(n)}::text`)).join(', ');
    const [row] = await query<{ h: string | null; n: string }>(url, `SELECT md5(string_agg(h, ',' ORDER BY h)) AS h, count(*)::text AS n FROM (SELECT md5(json_build_array(${expr})::text) AS h FROM ${q(s)}.${q(t)} WHERE $1::timestamptz IS NOT NULL) x`, [since]);
    parts.push(`${s}.${t} ${JSON.stringify(cols)} ${row!.n} ${row!.h ?? '-'}`);
  }
  const views = await query<{ v: string }>(url, "SELECT n.nspname || '.' || c.relname || ' ' || pg_get_viewdef(c.oid) AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1");
  const triggers = await query<{ v: string }>(url, "SELECT tgrelid::regclass::text || ' ' || tgname AS v FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1");
  return [...parts, ...views.map((v) => v.v), ...triggers.map((v) => v.v)].join('\n');
}

/** Wait until no tickvault session is connected to the database (a killed run's backends are gone). */
export async function noSessionsLeft(adminUrl: string, url: string): Promise<void> {
  const db = new URL(url).pathname.slice(1);
  for (let i = 0; i < 500; i++) {
    const [row] = await query<{ n: string }>(adminUrl, "SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'tickvault%'", [db]);
    if (row!.n === '0') return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`sessions of a killed run still connected to ${db}`);
}
