import path from 'node:path';
import { $ } from 'zx';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { rowHashes, schemaOf } from '../helpers/independent';
import { root, runRunbook } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/**
 * PostgreSQL's own regression database (~600 tables, ~90 column types,
 * built by scripts/corpus/postgres-regression.sh from Debian's source
 * package) through backup, restore, verify and copy-table, each verdict held
 * against plain-SQL name-keyed row hashes and pg_dump --schema-only.
 * Long: `npm run test:regression`.
 */
const stack = inject('stack');
const env = stackEnv();
let source: string;
let tables: string[];
let materialized: string[];
let expectedRows: Record<string, string>;

/** pg_dump prints an inherited child's columns in catalog order, which a restore may change: compare columns as a set. */
function columnsSorted(schema: string): string {
  return schema
    .split(/;\n/)
    .map((statement) => {
      const lines = statement.split('\n');
      if (!lines[0]?.startsWith('CREATE TABLE') || lines.length < 3) return statement;
      const close = lines.findLastIndex((l) => l.startsWith(')'));
      const columns = lines.slice(1, close).map((l) => l.replace(/,$/, '')).sort();
      return [lines[0], ...columns, ...lines.slice(close)].join('\n');
    })
    .join(';\n');
}

const withoutMaterialized = (hashes: Record<string, string>) => Object.fromEntries(Object.entries(hashes).filter(([name]) => !materialized.includes(name)));

beforeAll(async () => {
  source = await createDatabase(stack.postgresUrl, 'regression');
  const u = new URL(source);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const built = await $({ env: { ...process.env, PGPASSWORD: password } })`${path.join(root, 'scripts', 'corpus', 'postgres-regression.sh')} ${u.toString()}`;
  process.stderr.write(`${built.stdout}`);
  tables = (await query<{ t: string }>(source, `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`)).map((r) => r.t);
  materialized = (await query<{ m: string }>(source, "SELECT n.nspname || '.' || c.relname AS m FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm'")).map((r) => r.m);
  expectedRows = await rowHashes(source);
});

describe("PostgreSQL's regression database", () => {
  it('is the database the issue describes: hundreds of tables, ~90 column types', async () => {
    expect(tables.length).toBeGreaterThan(400);
    const [types] = await query<{ n: number }>(source, `SELECT count(DISTINCT a.atttypid)::int AS n FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')`);
    expect(types!.n).toBeGreaterThan(80);
  });

  it('backs up and restores into a new database exactly: rows by independent hash, schema by pg_dump', async () => {
    const backup = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
    expect(backup.code, backup.stdout.slice(-3000)).toBe(0);
    const restored = await createDatabase(stack.postgresUrl, 'regression_restored');
    const restore = await runRunbook('restore', ['postgres', '--backup', backup.summary!.id as string, '--database-url', source, '--target-url', restored, '--json', '--scenario', 'corruption'], { env });
    expect(restore.code, restore.stdout.slice(-3000)).toBe(0);
    // Materialized views are refreshed by the restore, as pg_restore does; the summary says so.
    expect((restore.summary!.materializedViews as { count: number }).count).toBe(materialized.length);
    expect(withoutMaterialized(await rowHashes(restored))).toEqual(withoutMaterialized(expectedRows));
    expect(columnsSorted(await schemaOf(restored))).toBe(columnsSorted(await schemaOf(source)));
  });

  it('verify.ts finds every table equal to itself restored: no false "differs" on any of them', async () => {
    const restored = await createDatabase(stack.postgresUrl, 'regression_verify');
    const backup = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
    expect((await runRunbook('restore', ['postgres', '--backup', backup.summary!.id as string, '--database-url', source, '--target-url', restored, '--json'], { env })).code).toBe(0);
    const failed: string[] = [];
    for (const table of tables) {
      const out = await runRunbook('verify', ['--json', '--source-url', source, '--target-url', restored, '--table', table], { env });
      if (out.code !== 0) failed.push(`${table}: exit ${out.code} ${String((out.summary?.error as { message?: string } | undefined)?.message ?? '')}`);
    }
    expect(failed).toEqual([]);
  });

  it('copy-table copies and verifies a set of tables covering every column type, each equal by independent hash', async () => {
    // Greedy cover: the fewest tables that together hold every column type of the database.
    const typed = await query<{ t: string; types: string[] }>(source, `SELECT format('%I.%I', n.nspname, c.relname) AS t, array_agg(DISTINCT a.atttypid::regtype::text) AS types
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
         AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) GROUP BY 1 ORDER BY 1`);
    const uncovered = new Set(typed.flatMap((r) => r.types));
    const chosen: string[] = [];
    while (uncovered.size) {
      const best = typed.reduce((a, b) => (b.types.filter((x) => uncovered.has(x)).length > a.types.filter((x) => uncovered.has(x)).length ? b : a));
      chosen.push(best.t);
      for (const type of best.types) uncovered.delete(type);
    }
    const target = await createDatabase(stack.postgresUrl, 'regression_copy');
    const failed: string[] = [];
    for (const table of chosen) {
      const out = await runRunbook('migrate', ['run', '--plan', 'copy-table', '--table', table, '--source-url', source, '--target-url', target, '--all', '--safety-window', '0', '--json'], { env });
      if (out.code !== 0) failed.push(`${table}: exit ${out.code} ${String((out.summary?.error as { message?: string } | undefined)?.message ?? '')}`);
      else {
        const [a] = await query<{ h: string }>(source, `SELECT count(*) || ':' || md5(coalesce(string_agg(h, ',' ORDER BY h), '')) AS h FROM (SELECT md5(to_jsonb(x)::text) AS h FROM ONLY ${table} x) s`);
        const [b] = await query<{ h: string }>(target, `SELECT count(*) || ':' || md5(coalesce(string_agg(h, ',' ORDER BY h), '')) AS h FROM (SELECT md5(to_jsonb(x)::text) AS h FROM ONLY ${table} x) s`);
        if (a!.h !== b!.h) failed.push(`${table}: copied rows differ by the independent hash`);
      }
    }
    process.stderr.write(`copy-table: ${chosen.length} tables cover ${new Set(typed.flatMap((r) => r.types)).size} column types\n`);
    expect(failed).toEqual([]);
  });
});
