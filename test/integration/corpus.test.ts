import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { rowHashes, schemaOf } from '../helpers/independent';
import { root, runRunbook, type RunbookOutput } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

/**
 * The torture corpus (test/corpus/torture.sql) through backup, restore and
 * verify, with every verdict held against checks that share no code with
 * tickvault: per-row md5 of to_jsonb(row) (keys sorted by jsonb, so keyed by
 * column name), aggregated order-free, for every table and partition; a
 * normalised `pg_dump --schema-only` diff; and the database's own catalog
 * row for owner, ACL, settings and comment.
 */
const stack = inject('stack');
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-corpus-'));
const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });
const dbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Exit code and summary agree, always (the runbook contract). */
function settled(out: RunbookOutput): RunbookOutput {
  expect(out.summary?.exitCode, out.stdout + out.stderr).toBe(out.code);
  return out;
}

/** Independent: the database's owner, ACL, settings and comment from the catalog. */
async function databaseProperties(url: string): Promise<Record<string, unknown>> {
  const [row] = await query<Record<string, unknown>>(
    stack.postgresUrl,
    `SELECT pg_get_userbyid(d.datdba) AS owner, d.datacl::text AS acl, shobj_description(d.oid, 'pg_database') AS comment,
            (SELECT array_agg(x ORDER BY x) FROM pg_db_role_setting s, unnest(s.setconfig) x WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings
       FROM pg_database d WHERE d.datname = $1`,
    [dbName(url)],
  );
  // The ACL names the database owner as grantor; only the grants matter.
  return row!;
}

async function loadCorpus(url: string): Promise<void> {
  const u = new URL(url);
  await $({ env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } })`psql -v ON_ERROR_STOP=1 -q ${`--dbname=${url.replace(/:[^:@/]*@/, '@')}`} -f ${path.join(root, 'test', 'corpus', 'torture.sql')}`.quiet();
  const db = q(dbName(url));
  await query(stack.postgresUrl, `DO $$ BEGIN CREATE ROLE corpus_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  for (const sql of [
    `ALTER DATABASE ${db} SET work_mem = '8MB'`,
    `ALTER DATABASE ${db} SET search_path = "$user", public, "Odd Schema"`,
    `COMMENT ON DATABASE ${db} IS 'torture corpus; don''t lose me'`,
    `GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO corpus_reader`,
    `REVOKE TEMPORARY ON DATABASE ${db} FROM PUBLIC`,
    `ALTER DATABASE ${db} OWNER TO corpus_owner`,
  ])
    await query(stack.postgresUrl, sql);
}

describe('torture corpus: backup, restore and verify agree with independent checks', () => {
  let source: string;
  let backupId: string;
  let expectedRows: Record<string, string>;
  let expectedSchema: string;
  let expectedProps: Record<string, unknown>;
  let restored: string;

  beforeAll(async () => {
    source = await createDatabase(stack.postgresUrl, 'corpus');
    await loadCorpus(source);
    expectedRows = await rowHashes(source);
    expectedSchema = await schemaOf(source);
    expectedProps = await databaseProperties(source);
    const backup = settled(await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env }));
    expect(backup.code, backup.stdout).toBe(0);
    backupId = backup.summary!.id as string;
    restored = new URL(source).toString().replace(/\/[^/]*$/, `/corpus_restored_${Date.now()}`);
    const restore = settled(await runRunbook('restore', ['postgres', '--backup', backupId, '--database-url', source, '--target-url', restored, '--json', '--scenario', 'corruption'], { env }));
    expect(restore.code, restore.stdout).toBe(0);
  }, 240_000);

  it('the corpus covers what it claims: every type family, partitions, inheritance, LOs', async () => {
    const kinds = await query<{ n: string }>(source, `SELECT count(DISTINCT atttypid)::text AS n FROM pg_attribute WHERE attrelid = 'public.all_types'::regclass AND attnum > 0`);
    expect(Number(kinds[0]!.n)).toBeGreaterThan(90);
    expect(expectedRows['public.measurements_2025_north_0']).toBeDefined();
    expect(expectedRows['public.inh_child']).toMatch(/^10:/);
    expect(expectedRows['(large objects)']).not.toBe(await (async () => (await query<{ h: string }>(stack.postgresUrl, "SELECT md5('') AS h"))[0]!.h)());
  });

  it('a new-database restore is exact: rows, schema and database properties', async () => {
    expect(await rowHashes(restored)).toEqual(expectedRows);
    expect(await schemaOf(restored)).toBe(expectedSchema);
    const props = await databaseProperties(restored);
    expect(props).toMatchObject({ owner: 'corpus_owner', comment: expectedProps.comment, settings: expectedProps.settings });
    expect(String(props.acl)).toContain('corpus_reader=Tc/');
    // The inherited child's columns come back in another order: name-keyed hashing must not care.
    const order = await query<{ cols: string }>(restored, `SELECT string_agg(attname, ',' ORDER BY attnum) AS cols FROM pg_attribute WHERE attrelid = 'public.inh_child'::regclass AND attnum > 0 AND NOT attisdropped`);
    expect(order[0]!.cols).toBe('id,name,added_later,extra');
  });

  it('every table loaded in pieces on two sessions (split-load.ts, forced small) restores exactly, by the independent checks', async () => {
    const pieces = `${restored}_pieces`;
    const forced = { ...env, TICKVAULT_SPLIT_LOAD_MIN_BYTES: '0', TICKVAULT_SPLIT_LOAD_PIECE_BYTES: '200' };
    const restore = settled(await runRunbook('restore', ['postgres', '--backup', backupId, '--database-url', source, '--target-url', pieces, '--json', '--jobs', '2'], { env: forced }));
    expect(restore.code, restore.stdout).toBe(0);
    const loads = restore.events.find((e) => e.event === 'end' && e.splitLoads)?.splitLoads as { entry: string; rows: number; pieces: number }[];
    expect(loads.find((l) => l.entry.includes('all_types'))!.pieces).toBeGreaterThan(5);
    expect(loads.length).toBeGreaterThanOrEqual(12);
    expect(await rowHashes(pieces)).toEqual(expectedRows);
    expect(await schemaOf(pieces)).toBe(expectedSchema);
  }, 240_000);

  it('RPO is measured from the snapshot, not the newest row (the corpus has been quiet for months)', async () => {
    const again = `${restored}_rpo`;
    const restore = settled(await runRunbook('restore', ['postgres', '--latest', '--database-url', source, '--target-url', again, '--json', '--scenario', 'corruption'], { env }));
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary).toMatchObject({ backupId, objectives: { rpoMet: true, recoveryPoint: { basis: 'snapshot time of the dump' } }, materializedViews: { count: 2, refreshed: 1 }, databasePropertiesNotCarried: [] });
    expect(restore.summary!.rpoMs as number).toBeLessThan(3_600_000);
  });

  it('verify.ts finds every table equal, with quoted names, no false "differs"', async () => {
    const tables = await query<{ t: string }>(source, `SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`);
    expect(tables.length).toBeGreaterThanOrEqual(12);
    for (const { t } of tables) {
      const out = settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', restored, '--table', t], { env }));
      expect(out.code, `${t}: ${out.stdout}`).toBe(0);
    }
  }, 240_000);

  it('verify.ts refuses a --key that is not unique (exit 2) and compares a keyless table as a multiset', async () => {
    const dup = settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', restored, '--table', 'public.no_key', '--key', 'x'], { env }));
    expect(dup.code).toBe(2);
    expect(dup.events.find((e) => e.event === 'error')?.message).toMatch(/not unique.*no_key/);
    const bad = settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', restored, '--table', '"Odd Schema.Order Items'], { env }));
    expect(bad.code).toBe(2);
  });

  describe('planted differences are found, named, and the independent check agrees', () => {
    const plants: { table: string; column: string; sql: string }[] = [
      { table: 'public.all_types', column: 'c_tsvector', sql: `UPDATE all_types SET c_tsvector = to_tsvector('simple', 'changed') WHERE id = 7` },
      { table: 'public.all_types', column: 'c_json', sql: `UPDATE all_types SET c_json = '{"b": 8, "a": "x"}' WHERE id = 8` },
      { table: 'public.all_types', column: 'c_point', sql: `UPDATE all_types SET c_point = point(9, -3.0000001) WHERE id = 9` },
      { table: 'public.all_types', column: 'c_enum', sql: `UPDATE all_types SET c_enum = CASE WHEN c_enum = 'ok' THEN 'meh'::mood ELSE 'ok'::mood END WHERE id = 10` },
      { table: 'public.all_types', column: 'c_double', sql: `UPDATE all_types SET c_double = c_double + 1e-12 WHERE id = 11` },
      { table: '"Odd Schema"."Order Items"', column: 'rh', sql: `UPDATE "Odd Schema"."Order Items" SET rh = rh + 1 WHERE "select" = 'sel3'` },
    ];
    it('each planted change is reported as one changed row naming its column', async () => {
      const copy = await createDatabase(stack.postgresUrl, 'plant');
      const r = settled(await runRunbook('restore', ['postgres', '--backup', backupId, '--database-url', source, '--target-url', copy, '--json', '--scenario', 'deletion'], { env }));
      expect(r.code, r.stdout).toBe(0);
      for (const plant of plants) await query(copy, plant.sql);
      const independent = await rowHashes(copy);
      expect(Object.keys(independent).filter((k) => independent[k] !== expectedRows[k]).sort()).toEqual(['Odd Schema.Order Items', 'public.all_types']);
      for (const table of [...new Set(plants.map((p) => p.table))]) {
        const out = settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', copy, '--table', table], { env }));
        expect(out.code, out.stdout).toBe(3);
        const differences = out.summary!.differences as { kind: string; columns?: string[] }[];
        const expected = plants.filter((p) => p.table === table);
        expect(differences.map((d) => d.kind)).toEqual(expected.map(() => 'changed'));
        expect(differences.map((d) => d.columns!.map((c) => c.split(' ')[0]).join(',')).sort()).toEqual(expected.map((p) => p.column).sort());
      }
    }, 120_000);

    it('a table with no columns compares by its row count', async () => {
      const copy = await createDatabase(stack.postgresUrl, 'plant');
      expect(settled(await runRunbook('restore', ['postgres', '--backup', backupId, '--database-url', source, '--target-url', copy, '--json'], { env })).code).toBe(0);
      for (const table of ['public.no_columns', 'public.all_dropped']) expect(settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', copy, '--table', table], { env })).code).toBe(0);
      await query(copy, 'DELETE FROM no_columns WHERE ctid = (SELECT min(ctid) FROM no_columns)');
      expect((await rowHashes(copy))['public.no_columns']).toMatch(/^2:/);
      const out = settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', copy, '--table', 'public.no_columns'], { env }));
      expect(out.code, out.stdout).toBe(3);
      expect(out.summary).toMatchObject({ sourceRows: 3, targetRows: 2 });
    }, 120_000);

    it('a lost generated column is a difference, named', async () => {
      const copy = await createDatabase(stack.postgresUrl, 'plant');
      expect(settled(await runRunbook('restore', ['postgres', '--backup', backupId, '--database-url', source, '--target-url', copy, '--json'], { env })).code).toBe(0);
      await query(copy, 'ALTER TABLE generated_cols DROP COLUMN total');
      const out = settled(await runRunbook('verify', ['--json', '--source-url', source, '--target-url', copy, '--table', 'generated_cols'], { env }));
      expect(out.code).toBe(3);
      expect((out.summary!.columnDifferences as string[]).join(' ')).toMatch(/generated_cols\.total \(numeric\): column missing in target/);
    }, 120_000);
  });

  it('in place: the live database is replaced by the backup, keeps its owner, ACL, settings and comment; the old one stays connectable', async () => {
    const live = await createDatabase(stack.postgresUrl, 'corpus_live');
    await loadCorpus(live);
    const made = settled(await runRunbook('backup', ['postgres', '--json', '--database-url', live], { env }));
    expect(made.code).toBe(0);
    const before = await rowHashes(live);
    const props = await databaseProperties(live);
    await query(live, `UPDATE all_types SET c_text = 'damaged'; DROP TABLE no_key`);
    const restore = settled(await runRunbook('restore', ['postgres', '--latest', '--in-place', '--yes', '--database-url', live, '--json'], { env }));
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary!.backupId).toBe(made.summary!.id);
    expect(await rowHashes(live)).toEqual(before);
    expect(await databaseProperties(live)).toMatchObject({ owner: props.owner, comment: props.comment, settings: props.settings });
    const kept = restore.summary!.previousDatabase as string;
    const keptUrl = live.replace(/\/[^/]*$/, `/${encodeURIComponent(kept)}`);
    expect(await query(keptUrl, 'SELECT count(*)::int AS n FROM all_types WHERE c_text = $1', ['damaged'])).toEqual([{ n: 41 }]);
  }, 240_000);
});
