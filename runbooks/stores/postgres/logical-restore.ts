import fs from 'node:fs';
import path from 'node:path';
import { $ } from '../../engine/shell';
import { ConfigError, VerificationError } from '../../engine/errors';
import { stateRoot } from '../../engine/paths';
import type { Run, StepContext } from '../../engine/run';
import type { Manifest } from '../../repository/manifest';
import type { Repository } from '../../repository/repository';
import { downloadVerified, stagingDir, verifyArtifacts } from '../../repository/transfer';
import { backupPrefix } from '../../repository/manifest';
import { databaseName, libpqConnection, pgBin, withDatabase } from './binaries';
import { connect, withClient } from './connect';
import { fingerprintParallel, largeObjectsFingerprint, listTables, sequenceStates } from './fingerprint';
import { serverInfo } from './server-info';
import { qualify, tableLabel, type TableName } from './sql';
import { FingerprintWhileLoading, TABLE_DATA_DONE } from './fingerprint-while-loading';
import type { RowHashAlgo } from '../../verify/row-hash';
import { stopWithRun } from './children';
import { bigTableData, listingWithout, splitLoad } from './split-load';
import { runTool } from '../../engine/tool';
import { onLogLine, RESTORE_ENTRY_DONE, TocProgress, tocEntryCount, withVerbose } from './toc-progress';
import { readDatabaseCreation, readDatabaseProperties } from './database-properties';
import { markRestored, prepareTarget, restoreAsideName, swapIntoPlace } from './target-database';
import { checkTimescaleVersion, describeInventory, TIMESCALE_CATALOG_DATA, planTimescaleRestore, timescaleTarget, verifyTimescaleRestore, withSessionOptions, type TimescaleInventory } from './timescale';
import { loadTimeFunctions } from './load-time-functions';
import { tableDataEntry } from './toc-line';

/** One command of a restore: SQL in the target, or a tool invocation. */
export type RestoreCommand = { kind: 'sql'; sql: string; afterVerify?: boolean } | { kind: 'exec'; argv: string[]; section?: 'pre-data' | 'data' | 'post-data' };

/**
 * The commands a logical restore issues, in order. Plain PostgreSQL: three
 * parallel pg_restore sections, so verification of the data can run while
 * post-data (indexes, constraints) builds. With TimescaleDB in the backup,
 * Timescale's procedure: extension first, pre_restore, pg_restore,
 * post_restore; the catalog (pre-data) serially (no parallel catalog
 * restore, timescaledb#698), the data (chunks are tables of their own) and
 * post-data in parallel.
 */
export function logicalRestoreCommands(manifest: Manifest, opts: { dumpDir: string; conninfo: string; jobs: number; timescaleUpdate?: boolean }): RestoreCommand[] {
  const timescale = manifest.server.extensions.timescaledb;
  const pgRestore = (jobs: number, section?: 'pre-data' | 'data' | 'post-data'): RestoreCommand => ({
    kind: 'exec',
    argv: [pgBin('pg_restore'), '--exit-on-error', '--no-password', `--jobs=${jobs}`, ...(section ? [`--section=${section}`] : []), `--dbname=${opts.conninfo}`, opts.dumpDir],
    ...(section ? { section } : {}),
  });
  if (!timescale) return [pgRestore(opts.jobs, 'pre-data'), pgRestore(opts.jobs, 'data'), pgRestore(opts.jobs, 'post-data')];
  return [
    { kind: 'sql', sql: `CREATE EXTENSION IF NOT EXISTS timescaledb VERSION '${timescale.replace(/'/g, "''")}'` },
    { kind: 'sql', sql: 'SELECT timescaledb_pre_restore()' },
    pgRestore(1, 'pre-data'),
    pgRestore(opts.jobs, 'data'),
    // Indexes and constraints of chunks are tables' like any other: pg_restore -j orders them by their locks.
    pgRestore(opts.jobs, 'post-data'),
    // Verified before post_restore: once the scheduler runs again, policies
    // (compression, aggregate refresh) may legitimately change what was restored.
    { kind: 'sql', sql: 'SELECT timescaledb_post_restore()', afterVerify: true },
    // Same version first, then Timescale's documented update (a fresh session).
    ...(opts.timescaleUpdate ? [{ kind: 'sql', sql: 'ALTER EXTENSION timescaledb UPDATE', afterVerify: true } as const] : []),
  ];
}

export interface LogicalRestoreOptions {
  repo: Repository;
  manifest: Manifest;
  /** Where to restore; for in-place, a sibling of the original first. */
  targetUrl: string;
  inPlace: boolean;
  jobs: number;
  /** Restore into the backup's TimescaleDB version, then ALTER EXTENSION … UPDATE to the target's. */
  timescaleUpdate?: boolean;
}

export interface LogicalRestoreResult {
  targetUrl: string;
  tablesVerified: number;
  rowsVerified: number;
  previousDatabase?: string | null;
  resumed: boolean;
}

/** Columns recorded in the backup versus restored: names and types, each difference by name. */
function columnProblems(table: string, expected: { name: string; type: string }[], got: { name: string; type: string }[]): string[] {
  const have = new Map(got.map((c) => [c.name, c.type]));
  const want = new Map(expected.map((c) => [c.name, c.type]));
  const problems: string[] = [];
  for (const [name, type] of want) {
    if (!have.has(name)) problems.push(`${table}.${name} (${type}): column missing`);
    else if (have.get(name) !== type) problems.push(`${table}.${name}: type ${have.get(name)}, backup had ${type}`);
  }
  for (const [name, type] of have) if (!want.has(name)) problems.push(`${table}.${name} (${type}): column not in the backup`);
  return problems;
}

type ManifestTable = Manifest['tables'][number];

/** The restored tables a manifest entry can be: the one it names, or (manifests before 6 Dec 2026, label only) every table with its label. */
function candidatesOf<T extends TableName>(entry: ManifestTable, existing: T[]): T[] {
  if (entry.schema !== undefined && entry.name !== undefined) return existing.filter((t) => t.schema === entry.schema && t.name === entry.name);
  return existing.filter((t) => tableLabel(t) === entry.table);
}

/** The manifest's tables that exist in the restored database, as tables to fingerprint. */
async function tablesToVerify(url: string, manifest: Manifest): Promise<{ table: TableName; algo: RowHashAlgo }[]> {
  const existing = await withClient(url, (c) => listTables(c));
  const out = new Map<string, { table: TableName; algo: RowHashAlgo }>();
  for (const entry of manifest.tables) for (const table of candidatesOf(entry, existing)) out.set(qualify(table), { table, algo: entry.algo });
  return [...out.values()];
}

/** Start hashing tables while their data loads (fingerprint-while-loading.ts); `listing`: the entries still to load. */
export async function startVerifyingWhileLoading(url: string, manifest: Manifest, listing: string): Promise<FingerprintWhileLoading> {
  return FingerprintWhileLoading.start(() => connect(url, 'restored database'), await tablesToVerify(url, manifest), listing);
}

/**
 * Compare every table's row count, columns and content hash (plus large
 * objects and sequences) with the manifest. Tables are matched by schema and
 * name (by label in manifests before 6 Dec 2026), never parsed from a label:
 * names may hold dots, spaces and quotes.
 */
export async function verifyAgainstManifest(url: string, manifest: Manifest, workers = 2, started?: FingerprintWhileLoading): Promise<{ tables: number; rows: number }> {
  const problems: string[] = [];
  const got = started ? await started.finish(workers) : await fingerprintParallel(() => connect(url, 'restored database'), await tablesToVerify(url, manifest), workers);
  const unmatched = new Set(got.map((g) => ({ ...g, schema: g.schema!, name: g.name! })));
  let rows = 0;
  for (const expected of manifest.tables) {
    // By schema and name; an old manifest's label may fit two tables: the one that agrees, else the first.
    const fits = candidatesOf(expected, [...unmatched]);
    const g = fits.find((f) => f.rows === expected.rows && f.hash === expected.hash) ?? fits[0];
    if (g) unmatched.delete(g);
    if (!g) {
      problems.push(`${expected.table}: missing`);
      continue;
    }
    rows += g.rows;
    const columns = expected.columns && g.columns ? columnProblems(expected.table, expected.columns, g.columns) : [];
    problems.push(...columns);
    if (g.rows !== expected.rows) problems.push(`${expected.table}: ${g.rows} rows, backup had ${expected.rows}`);
    else if (g.hash !== expected.hash && columns.length === 0) problems.push(`${expected.table}: content hash differs`);
  }
  const details = manifest.details as { largeObjects?: { count: number; hash: string }; sequences?: Record<string, string | null> };
  if (details.largeObjects || details.sequences) {
    await withClient(url, async (c) => {
      if (details.largeObjects) {
        const lo = await largeObjectsFingerprint(c);
        if (lo.count !== details.largeObjects!.count || lo.hash !== details.largeObjects!.hash) problems.push(`large objects: ${lo.count} (hash ${lo.hash}), backup had ${details.largeObjects!.count} (hash ${details.largeObjects!.hash})`);
      }
      if (details.sequences) {
        const now = await sequenceStates(c);
        for (const [name, value] of Object.entries(details.sequences)) if (now[name] !== value) problems.push(`sequence ${name}: last value ${now[name] ?? 'none'}, backup had ${value ?? 'none'}`);
      }
    });
  }
  if (problems.length) throw new VerificationError(`restored data does not match backup ${manifest.id}: ${problems.join('; ')}`, { problems });
  return { tables: manifest.tables.length, rows };
}

export async function logicalRestore(run: Run, opts: LogicalRestoreOptions): Promise<LogicalRestoreResult> {
  const { manifest } = opts;
  const original = opts.targetUrl;
  const restoreUrl = opts.inPlace ? withDatabase(original, restoreAsideName(databaseName(original))) : original;
  const staging = stagingDir(path.join(stateRoot(), 'tmp'), manifest.id);
  run.onCleanup(() => fs.rmSync(staging, { recursive: true, force: true }));

  const timescale = await run.step('check server version', async (step) => {
    const target = await withClient(withDatabase(original, 'postgres'), serverInfo, 'target (maintenance database "postgres")');
    const sourceMajor = Number(manifest.server.version.split('.')[0]);
    const targetMajor = Math.floor(target.versionNum / 10000);
    step.record({ source: manifest.server.version, target: target.version });
    if (targetMajor < sourceMajor) throw new ConfigError(`the target runs PostgreSQL ${target.version}, older than the backup's ${manifest.server.version}`);
    const tsTarget = manifest.server.extensions.timescaledb ? await withClient(withDatabase(original, 'postgres'), timescaleTarget) : undefined;
    const plan = planTimescaleRestore(manifest.server.extensions.timescaledb, tsTarget ?? { defaultVersion: null, availableVersions: [] }, Boolean(opts.timescaleUpdate));
    if (plan.createVersion) step.record({ timescaledb: plan });
    return plan;
  }, { readOnly: true });

  // A local repository is read in place; a remote one is downloaded into staging.
  const prefix = backupPrefix(manifest.env, manifest.store, manifest.id);
  const dumpDir = opts.repo.localPath ? opts.repo.localPath(`${prefix}/dump`) : path.join(staging, 'dump');
  await run.step('check sha256 of every file', async (step) => {
    if (opts.repo.localPath) {
      const problems = await verifyArtifacts(opts.repo, manifest, (done, total) => step.progress(done, total, 'files'));
      if (problems.length) throw new VerificationError(`backup ${manifest.id} failed its checksum check; the target was not touched: ${problems.map((p) => `${p.path} (${p.problem})`).join('; ')}`, { problems });
    } else {
      await downloadVerified(opts.repo, manifest, staging, (done, total) => step.progress(done, total, 'files'));
    }
    step.note(`${manifest.files.length} files match the manifest`);
  }, { readOnly: true });
  if (run.dryRun) {
    await run.step('restore', async () => undefined, { detail: `into ${databaseName(restoreUrl)}${opts.inPlace ? ', then swap into place' : ''}` });
    return { targetUrl: original, tablesVerified: 0, rowsVerified: 0, resumed: false };
  }

  const prepared = await run.step('prepare target database', async (step) => {
    run.markChanged();
    const result = await prepareTarget(restoreUrl, manifest.id, run.id, await readDatabaseCreation(dumpDir));
    step.note(result.resumed ? 'recreated after an interrupted restore' : result.created ? 'created' : 'empty, ready');
    if (result.notCarried) run.warn(`not carried into the restored database: ${result.notCarried}`);
    return result;
  });

  const { conninfo, env } = libpqConnection(restoreUrl);
  const commands = logicalRestoreCommands(manifest, { dumpDir, conninfo, jobs: opts.jobs, timescaleUpdate: Boolean(timescale.updateTo) });
  // Between pre_restore and post_restore the database is in TimescaleDB's
  // restoring mode; the verifying sessions alone leave it to read chunks.
  const verifyUrl = timescale.createVersion ? withSessionOptions(restoreUrl, '-c timescaledb.restoring=off') : restoreUrl;
  let verifying: FingerprintWhileLoading | undefined;
  /** The database's own functions that run during the load (load-time-functions.ts); undefined until the tables exist. */
  let loadTime: string[] | undefined;
  run.onCleanup(() => verifying?.abandon());
  const pgRestore = async (argv: string[], progress?: TocProgress) => {
    // Bulk-load settings for the restore sessions only; the result is verified afterwards.
    const child = stopWithRun(run, $({ env: { ...process.env, ...env, PGOPTIONS: '-c synchronous_commit=off -c maintenance_work_mem=512MB' } })`${progress ? withVerbose(argv) : argv}`);
    if (verifying && progress) {
      const loaded = verifying;
      onLogLine(child, (line) => {
        const done = TABLE_DATA_DONE.exec(line);
        if (done) loaded.entryDone(Number(done[1]));
      });
    }
    await (progress ? progress.watch(child, RESTORE_ENTRY_DONE) : child);
  };
  const splitLoads: { entry: string; rows: number; pieces: number; notSplittable?: string }[] = [];
  const execute = async (command: RestoreCommand, progress?: TocProgress) => {
    if (command.kind === 'sql') await withClient(restoreUrl, (c) => c.query(command.sql));
    else if (command.section !== 'data') await pgRestore(command.argv, progress);
    else {
      // TimescaleDB's catalog first and serially (its tables reference each other); then big
      // tables on every session at once (split-load.ts), and pg_restore -j for the rest.
      const listing = (await runTool(pgBin('pg_restore'), ['--list', dumpDir])).stdout;
      const catalog = timescale.createVersion ? listing.split('\n').filter((line) => TIMESCALE_CATALOG_DATA.test(line)) : [];
      const big = bigTableData(dumpDir, listing).filter((e) => !catalog.includes(e.line));
      fs.mkdirSync(staging, { recursive: true });
      const withList = (name: string, text: string, jobs?: number) => {
        fs.writeFileSync(path.join(staging, name), text);
        const argv = command.argv.map((a) => (jobs && a.startsWith('--jobs=') ? `--jobs=${jobs}` : a));
        return [...argv.slice(0, -1), `--use-list=${path.join(staging, name)}`, argv.at(-1)!];
      };
      if (catalog.length) await pgRestore(withList('catalog.list', `${catalog.join('\n')}\n`, 1), progress);
      // Tables exist (and TimescaleDB's catalog is loaded): hash each as soon as its rows are in,
      // unless loading a table can write to another.
      loadTime = await withClient(verifyUrl, loadTimeFunctions);
      if (!loadTime.length) verifying = await startVerifyingWhileLoading(verifyUrl, manifest, listingWithout(listing, catalog));
      if (!catalog.length && !big.length) await pgRestore(command.argv, progress);
      else await pgRestore(withList('data.list', listingWithout(listing, [...catalog, ...big.map((e) => e.line)])), progress);
      for (const entry of big) {
        const loaded = await splitLoad(run, { dumpDir, entry, url: restoreUrl, sessions: opts.jobs, listFile: path.join(staging, `data-${entry.dumpId}.list`) });
        splitLoads.push({ entry: tableDataEntry(entry.line)!.label, ...loaded });
        if (loaded.notSplittable) await pgRestore(withList(`data-${entry.dumpId}-whole.list`, `${entry.line}\n`, 1), progress);
        else progress?.add(1);
        verifying?.entryDone(entry.dumpId);
      }
    }
  };
  /** Progress in TOC entries over the pg_restore runs among `some`. */
  const withProgress = async (step: StepContext, some: RestoreCommand[], body: (progress: TocProgress) => Promise<unknown>) => {
    const progress = new TocProgress((done, total) => step.progress(done, total, 'TOC entries'));
    for (const c of some) if (c.kind === 'exec') progress.expect(await tocEntryCount(dumpDir, c.section));
    await body(progress);
    progress.finish();
  };
  const postData = commands.find((c) => c.kind === 'exec' && c.section === 'post-data');
  const resume = commands.filter((c) => c.kind === 'sql' && c.afterVerify);
  await run.step(timescale.createVersion ? 'pg_restore schema and data (TimescaleDB restoring mode)' : 'pg_restore schema and data', async (step) => {
    const first = commands.filter((command) => command !== postData && !resume.includes(command));
    await withProgress(step, first, async (progress) => {
      for (const command of first) await execute(command, progress);
    });
    if (splitLoads.length) step.record({ splitLoads });
  }, { detail: `${commands.length} commands` });

  // Data is complete: check it while indexes and constraints build.
  const verified = await run.step(postData ? 'indexes and constraints ‖ verify row counts and content hashes' : 'verify row counts and content hashes', async (step) => {
    const workers = Math.max(2, opts.jobs);
    const runPostData = () => (postData ? withProgress(step, [postData], (progress) => execute(postData, progress)) : Promise.resolve());
    let result: { tables: number; rows: number };
    if (loadTime?.length) {
      // The database's own functions ran during the load and run in post-data, and may write: verify after the last.
      step.record({ verifiedAfterPostData: loadTime });
      await runPostData();
      result = await verifyAgainstManifest(verifyUrl, manifest, workers);
    } else {
      // Every worker hashes, even beside the index builds: with one table the
      // data section kept one core idle, and hashing (not hint bits) is the cost.
      const [beside, built] = await Promise.allSettled([verifyAgainstManifest(verifyUrl, manifest, workers, verifying), runPostData()]);
      if (built.status === 'rejected') throw built.reason;
      // Post-data's own objects (index expressions, validated constraints) may call such functions too.
      const late = await withClient(verifyUrl, loadTimeFunctions);
      if (late.length) {
        step.record({ verifiedAgainAfterPostData: late });
        result = await verifyAgainstManifest(verifyUrl, manifest, workers);
      } else if (beside.status === 'rejected') throw beside.reason;
      else result = beside.value;
    }
    if (verifying) step.record({ hashedWhileLoading: verifying.early });
    step.note(`${result.tables} tables, ${result.rows.toLocaleString('en-US')} rows match`);
    return result;
  });
  await run.step('database owner, ACL, settings and comment', async (step) => {
    const blocks = await readDatabaseProperties(dumpDir, databaseName(restoreUrl));
    const failed: string[] = [];
    await withClient(withDatabase(restoreUrl, 'postgres'), async (admin) => {
      for (const block of blocks) {
        try {
          await admin.query(block.sql);
        } catch (error) {
          failed.push(`${block.entry}: ${(error as Error).message}`);
        }
      }
    });
    // A role missing on this server is not a reason to throw the restore away; say what was not carried.
    for (const f of failed) run.warn(`not carried into the restored database: ${f}`);
    const views = await withClient(restoreUrl, (c) => c.query<{ n: string; populated: string }>('SELECT count(*)::text AS n, count(*) FILTER (WHERE ispopulated)::text AS populated FROM pg_matviews'));
    const mv = views.rows[0]!;
    step.record({ databaseProperties: blocks.length - failed.length, notCarried: failed, materializedViews: Number(mv.n), materializedViewsPopulated: Number(mv.populated) });
    run.report({ materializedViews: { count: Number(mv.n), refreshed: Number(mv.populated) }, databasePropertiesNotCarried: [...(prepared.notCarried ? [prepared.notCarried] : []), ...failed] });
    step.note(`${blocks.length - failed.length}/${blocks.length} applied; ${mv.n} materialized view(s), ${mv.populated} refreshed by pg_restore`);
  });
  const expectedTimescale = manifest.details.timescale as TimescaleInventory | undefined;
  if (expectedTimescale && timescale.createVersion) {
    await run.step('verify hypertables, compressed chunks, continuous aggregates and jobs', async (step) => {
      const got = await withClient(verifyUrl, (c) => verifyTimescaleRestore(c, expectedTimescale, timescale.createVersion!));
      step.note(describeInventory(got));
    });
  }
  // The scheduler reconnects once post_restore ran, and a database with
  // sessions cannot be renamed: in place, it resumes after the swap.
  const resumeTimescale = async (url: string) => {
    if (!resume.length) return;
    await run.step(timescale.updateTo ? `timescaledb_post_restore, then update to ${timescale.updateTo}` : 'timescaledb_post_restore (scheduler resumes)', async () => {
      for (const command of resume) await withClient(url, (c) => c.query((command as { sql: string }).sql));
      if (timescale.updateTo) await withClient(url, (c) => checkTimescaleVersion(c, timescale.updateTo!));
    });
  };
  if (!opts.inPlace) await resumeTimescale(restoreUrl);
  await markRestored(restoreUrl);

  let previousDatabase: string | null | undefined;
  if (opts.inPlace) {
    previousDatabase = await run.step('swap into place', async (step) => {
      const { previous } = await swapIntoPlace(original, databaseName(restoreUrl));
      step.note(previous ? `the replaced database is kept as "${previous}"` : 'the original database did not exist');
      return previous;
    });
    await resumeTimescale(original);
  }
  return { targetUrl: original, tablesVerified: verified.tables, rowsVerified: verified.rows, previousDatabase, resumed: prepared.resumed };
}
