import type pg from 'pg';
import { RefusedError } from '../engine/errors';
import { pgWorker, runPool } from '../engine/pool';
import type { Run } from '../engine/run';
import { connect } from '../stores/postgres/connect';
import { copyChunksInto } from '../stores/postgres/copy-in';
import { combinedHash, fingerprintTables, type TableFingerprint } from '../stores/postgres/fingerprint';
import { countsFor, tableSources, type GenContext } from './generators';
import { CONSTRAIN_TABLES, CREATE_TABLES, SEED_TABLES, type SeedTable } from './schema';

/** Seed 004's completion date: the default end of the data window, so the same seed gives the same bytes. */
export const DEFAULT_END = new Date('2026-01-18T00:00:00Z');

export interface SeedOptions {
  databaseUrl: string;
  scale: number;
  seed: number;
  end: Date;
  reset: boolean;
  /** Parallel COPY connections (tables are spread across them). */
  jobs?: number;
}

export interface SeedResult {
  counts: Record<SeedTable, number>;
  fingerprints: TableFingerprint[];
  contentHash: string;
  rows: number;
}

async function existingSeedTables(client: pg.ClientBase): Promise<{ table: string; hasRows: boolean }[]> {
  const { rows } = await client.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])`, [SEED_TABLES as unknown as string[]]);
  const out = [];
  for (const { name } of rows) {
    const probe = await client.query(`SELECT 1 FROM public.${name} LIMIT 1`);
    out.push({ table: name, hasRows: (probe.rowCount ?? 0) > 0 });
  }
  return out;
}

/** Create the seed tables and fill them through COPY on parallel connections. */
export async function seedDatabase(run: Run, opts: SeedOptions): Promise<SeedResult> {
  const ctx: GenContext = { seed: opts.seed, counts: countsFor(opts.scale), end: opts.end };
  const sources = tableSources(ctx);
  const admin = await run.step('connect', () => connect(opts.databaseUrl), { readOnly: true, detail: 'DATABASE_URL' });
  run.onCleanup(() => admin.end());

  const existing = await run.step('check target is empty', async (step) => {
    const found = await existingSeedTables(admin);
    step.record({ existing: found.map((f) => f.table) });
    return found;
  }, { readOnly: true });
  if (existing.length > 0 && !opts.reset) {
    const withRows = existing.filter((e) => e.hasRows).map((e) => e.table);
    throw new RefusedError(`the target already has seed tables (${existing.map((e) => e.table).join(', ')}${withRows.length ? `; with rows: ${withRows.join(', ')}` : ''}); nothing was changed`, {
      hint: 'seed into an empty database, or pass --reset to drop and recreate these tables',
    });
  }
  if (existing.length > 0) {
    await run.step('drop existing seed tables', async () => {
      await admin.query(`DROP TABLE IF EXISTS ${SEED_TABLES.map((t) => `public.${t}`).join(', ')} CASCADE`);
    }, { confirm: { action: `drop and recreate ${existing.length} seed tables`, target: new URL(opts.databaseUrl).pathname.slice(1) || 'database' } });
  }

  await run.step('create tables', async () => {
    await admin.query('BEGIN');
    for (const table of SEED_TABLES) await admin.query(CREATE_TABLES[table]);
    await admin.query('COMMIT');
  }, { detail: `${SEED_TABLES.length} tables` });

  const total = SEED_TABLES.reduce((sum, t) => sum + sources[t].rows, 0);
  const counts = {} as Record<SeedTable, number>;
  await run.step('load through COPY', async (step) => {
    // Largest tables first, each taken by the next free connection.
    const queue = [...SEED_TABLES].sort((a, b) => sources[b].rows - sources[a].rows);
    let bytesDone = 0;
    let rowsDone = 0;
    // One shared pool: the first failed load cancels the others and every connection is closed.
    await runPool(queue, { workers: Math.max(1, opts.jobs ?? 2), open: () => connect(opts.databaseUrl), ...pgWorker((client: pg.Client) => [client]) }, async (table, client) => {
      counts[table] = await copyChunksInto(client, `public.${table}`, sources[table].chunks(), (chunk) => {
        bytesDone += chunk.length;
        rowsDone += countLines(chunk);
        step.progress(rowsDone, total, 'rows');
      });
    });
    step.record({ rows: rowsDone, bytes: bytesDone });
    step.note(`${rowsDone.toLocaleString('en-US')} rows`);
  }, { detail: `${total.toLocaleString('en-US')} rows, scale ${opts.scale}, seed ${opts.seed}` });

  await run.step('add keys and indexes', async () => {
    for (const table of SEED_TABLES) for (const ddl of CONSTRAIN_TABLES[table]) await admin.query(ddl);
    await admin.query(`ANALYZE ${SEED_TABLES.map((t) => `public.${t}`).join(', ')}`);
  });

  const fingerprints = await run.step('fingerprint', async () => fingerprintTables(admin, SEED_TABLES.map((name) => ({ schema: 'public', name }))), { dryRunResult: [] });
  for (const f of fingerprints) {
    const expected = sources[f.table.replace(/^public\./, '') as SeedTable].rows;
    if (f.rows !== expected) throw new Error(`${f.table}: loaded ${f.rows} rows, generated ${expected}`);
  }
  return { counts, fingerprints, contentHash: combinedHash(fingerprints), rows: total };
}

function countLines(chunk: string): number {
  let n = 0;
  for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) n++;
  return n;
}
