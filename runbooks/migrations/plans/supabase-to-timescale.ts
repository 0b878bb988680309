import { z } from 'zod';
import { ConfigError, RefusedError, VerificationError } from '../../engine/errors';
import { inTransactionRetrying } from '../../engine/transaction';
import { withClient } from '../../stores/postgres/connect';
import { canCreateTimescale } from '../../stores/postgres/timescale';
import { compareTables } from '../../verify/compare';
import { copyAcross } from '../copy/cross-database';
import { forgetBatches } from '../copy/ledger';
import { createTableSql, describeTable } from '../copy/table-info';
import { definePlan, type Phase, type PhaseContext } from '../plan';
import { captureSetLag, captureSetParity, cutoverSet, preflightCaptureSet, rollbackCutoverSet, stopCaptureSet, windowSyncSet, withCaptureSet, type SetTable } from '../cdc/capture-set';
import { switchReaders, switchReadersBack, TIMESCALE_READERS } from '../reader-switch';
import { backupOf } from './shared';
import { columnDefaults, supabaseNotCarried } from './supabase-inventory';

type Options = Record<string, never>;
type Ctx = PhaseContext<Options>;

// Seed 004 (story 1.10, scripts/timescaledb-migration.ts): Supabase users,
// trades and tick_data → TimescaleDB. tick_data becomes a hypertable
// compressed by symbol / ts DESC with a compression policy, and four OHLCV
// continuous aggregates each with a refresh policy ("hypertable +
// compression + 4 aggregates"). Supabase's roles, grants, RLS policies and
// auth schema are stripped, and listed in preflight's report.
const USERS = { schema: 'public', name: 'users' };
const TRADES = { schema: 'public', name: 'trades' };
const TICKS = { schema: 'public', name: 'tick_data' };
const TABLES = [USERS, TRADES, TICKS];
const NAMES = TABLES.map((t) => `${t.schema}.${t.name}`);

export const CHUNK_INTERVAL = '1 day';
export const COMPRESS_AFTER = '7 days';

/** The four OHLCV aggregates and their refresh policies (start_offset covers several buckets; end_offset one bucket). */
export const AGGREGATES = [
  { view: 'tick_ohlcv_1m', bucket: '1 minute', start: '1 day', end: '1 minute', every: '1 minute' },
  { view: 'tick_ohlcv_5m', bucket: '5 minutes', start: '2 days', end: '5 minutes', every: '5 minutes' },
  { view: 'tick_ohlcv_1h', bucket: '1 hour', start: '7 days', end: '1 hour', every: '1 hour' },
  { view: 'tick_ohlcv_1d', bucket: '1 day', start: '30 days', end: '1 day', every: '1 day' },
] as const;

const ohlcv = (bucket: string) => `SELECT time_bucket('${bucket}', ts) AS bucket, symbol, first(price, ts) AS open, max(price) AS high, min(price) AS low, last(price, ts) AS close, sum(volume) AS volume, count(*) AS ticks FROM public.tick_data GROUP BY 1, 2`;

/** Re-materialise every aggregate over all time (not allowed inside a transaction). */
async function refreshAggregates(ctx: Ctx): Promise<void> {
  // A refresh commits batch by batch; not waiting for each WAL flush makes it several times faster, and a
  // refresh lost to a crash is redone by the next one (it re-materialises what is still invalidated).
  await ctx.target.query('SET synchronous_commit = off');
  try {
    for (const a of AGGREGATES) await ctx.target.query(`CALL refresh_continuous_aggregate('public.${a.view}', NULL, NULL)`);
  } finally {
    await ctx.target.query('RESET synchronous_commit');
  }
}

/** Compress what the compression policy would: chunks older than COMPRESS_AFTER. */
async function compressOldChunks(ctx: Ctx): Promise<number> {
  const { rows } = await ctx.target.query<{ n: string }>(`SELECT count(compress_chunk(c, if_not_compressed => true))::text AS n FROM show_chunks('public.tick_data', older_than => interval '${COMPRESS_AFTER}') c`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * The three tables under one change capture (one slot, one publication):
 * matched by the source's key (id); the target's tick_data key is (id, ts).
 * users and trades are upserted in place (trades reference users: a delete
 * + insert of a user would trip that key); ticks by delete + insert (a
 * corrected ts moves the row to another chunk).
 */
const captured = (ctx: Ctx): SetTable[] =>
  TABLES.map((t) => ({
    source: t,
    target: t,
    inPlace: t !== TICKS,
    compare: () => compareTables({ url: ctx.settings.sourceUrl, table: t }, { url: ctx.settings.targetUrl, table: t }, { key: ['id'] }),
  }));

/** The 1d aggregate's materialised tick total equals the hypertable's rows (independent of the aggregate's own refresh bookkeeping). */
async function aggregateTotals(ctx: Ctx) {
  const { rows } = await ctx.target.query<{ agg: string; raw: string }>('SELECT (SELECT coalesce(sum(ticks), 0)::text FROM public.tick_ohlcv_1d) AS agg, (SELECT count(*)::text FROM public.tick_data) AS raw');
  if (rows[0]!.agg !== rows[0]!.raw) throw new VerificationError(`tick_ohlcv_1d counts ${rows[0]!.agg} ticks, tick_data has ${rows[0]!.raw}`);
  return { aggregatedTicks: Number(rows[0]!.agg) };
}

/** Foreign keys among the migrated tables, replayed on the target; keys to other tables (auth.users) are reported. */
async function sourceForeignKeys(ctx: Ctx) {
  const { rows } = await withClient(ctx.settings.sourceUrl, (c) => c.query<{ t: string; name: string; def: string; ref: string }>(
    `SELECT cn.nspname || '.' || c.relname AS t, k.conname AS name, pg_get_constraintdef(k.oid) AS def, rn.nspname || '.' || r.relname AS ref
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE k.contype = 'f' AND k.conrelid = ANY (SELECT to_regclass(x) FROM unnest($1::text[]) x) ORDER BY 1, 2`,
    [NAMES],
  ), '--source-url');
  return { replay: rows.filter((r) => NAMES.includes(r.ref)), skipped: rows.filter((r) => !NAMES.includes(r.ref)) };
}

/**
 * Replay the foreign keys among the migrated tables on the target, NOT VALID
 * and DEFERRABLE: the tables were copied under different snapshots (a trade
 * may arrive before its new user does, through the capture), and the
 * capture applies a source transaction table by table, checking at commit.
 * Cutover validates them at the fence, where the tables are equal.
 */
async function addForeignKeys(ctx: Ctx): Promise<string[]> {
  const { replay } = await sourceForeignKeys(ctx);
  for (const fk of replay) {
    const has = (await ctx.target.query('SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2', [fk.t, fk.name])).rowCount;
    if (!has) await ctx.target.query(`ALTER TABLE ${fk.t} ADD CONSTRAINT "${fk.name.replace(/"/g, '""')}" ${fk.def}${/\bDEFERRABLE\b/.test(fk.def) && !/NOT DEFERRABLE/.test(fk.def) ? '' : ' DEFERRABLE INITIALLY IMMEDIATE'} NOT VALID`);
  }
  return replay.map((f) => f.name);
}

/** Validate the replayed foreign keys (cutover, at the fence). */
async function validateForeignKeys(ctx: Ctx): Promise<string[]> {
  const { rows } = await ctx.target.query<{ t: string; name: string }>("SELECT conrelid::regclass::text AS t, conname AS name FROM pg_constraint WHERE contype = 'f' AND NOT convalidated AND conrelid = ANY (SELECT to_regclass(x) FROM unnest($1::text[]) x)", [NAMES]);
  for (const r of rows) await ctx.target.query(`ALTER TABLE ${r.t} VALIDATE CONSTRAINT "${r.name.replace(/"/g, '""')}"`);
  return rows.map((r) => r.name);
}

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'Supabase source (users, trades, tick_data), TimescaleDB on the target, what is not carried',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      if (!(await canCreateTimescale(ctx.target))) throw new ConfigError('the target cannot create the timescaledb extension (not installed, or not in shared_preload_libraries)', { hint: 'see README "TimescaleDB"' });
      const taken = (await ctx.target.query<{ n: string }>('SELECT x AS n FROM unnest($1::text[]) x WHERE to_regclass(x) IS NOT NULL', [[...NAMES, ...AGGREGATES.map((a) => `public.${a.view}`)]])).rows.map((r) => r.n);
      if (taken.length) throw new RefusedError(`the target already has ${taken.join(', ')}; nothing was changed`, { hint: 'migrate into a database without them (or roll back a previous attempt)' });
      return withClient(ctx.settings.sourceUrl, async (src) => {
        const sizes: Record<string, number> = {};
        for (const t of TABLES) sizes[t.name] = (await describeTable(src, t)).estimatedRows;
        const { notCarried, supabaseRolesOnSource } = await supabaseNotCarried(src, ctx.target, NAMES);
        const { skipped } = await sourceForeignKeys(ctx);
        for (const fk of skipped) notCarried.push({ kind: 'foreign key', name: `${fk.t} ${fk.name} → ${fk.ref}`, reason: 'foreign key to a table that is not migrated' });
        const extensions = (await src.query<{ e: string }>("SELECT extname AS e FROM pg_extension WHERE extname IN ('pgcrypto', 'uuid-ossp') ORDER BY 1")).rows.map((r) => r.e);
        return { estimatedRows: sizes, supabaseRoles: supabaseRolesOnSource, rolesStrategy: 'strip', extensions, notCarried };
      }, '--source-url').then(async (found) => ({ ...found, ...(await preflightCaptureSet(ctx, TABLES)) }));
    },
  },
  backupOf('source'),
  {
    id: 'expand',
    title: 'tables, hypertable (1-day chunks) with compression and its policy, four OHLCV aggregates with refresh policies',
    // One transaction: a crash leaves no half-built layout (aggregates are created WITH NO DATA, which a transaction allows).
    transaction: true,
    idempotent: true,
    async run(ctx) {
      const had = async (ext: string) => Boolean((await ctx.target.query('SELECT 1 FROM pg_extension WHERE extname = $1', [ext])).rowCount);
      const wanted = ['timescaledb', ...((ctx.recorded('preflight').extensions as string[] | undefined) ?? [])];
      const createdExtensions: string[] = [];
      for (const ext of wanted) {
        if (await had(ext)) continue;
        await ctx.target.query(`CREATE EXTENSION IF NOT EXISTS "${ext}"`);
        createdExtensions.push(ext);
      }
      const notCarried: string[] = [];
      await withClient(ctx.settings.sourceUrl, async (src) => {
        for (const t of TABLES) {
          await ctx.target.query(createTableSql(await describeTable(src, t), t));
          for (const d of await columnDefaults(src, `${t.schema}.${t.name}`)) {
            if (d.carried) await ctx.target.query(`ALTER TABLE ${t.schema}.${t.name} ALTER COLUMN "${d.column.replace(/"/g, '""')}" SET DEFAULT ${d.expr}`);
            else notCarried.push(`default of ${t.name}.${d.column}: ${d.expr}`);
          }
        }
      }, '--source-url');
      // A hypertable's unique keys must contain its time column.
      await ctx.target.query('ALTER TABLE public.tick_data ADD CONSTRAINT tick_data_pkey PRIMARY KEY (id, ts)');
      await ctx.target.query(`SELECT create_hypertable('public.tick_data', 'ts', chunk_time_interval => interval '${CHUNK_INTERVAL}')`);
      await ctx.target.query("ALTER TABLE public.tick_data SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts DESC')");
      await ctx.target.query(`SELECT add_compression_policy('public.tick_data', interval '${COMPRESS_AFTER}')`);
      for (const a of AGGREGATES) {
        await ctx.target.query(`CREATE MATERIALIZED VIEW public.${a.view} WITH (timescaledb.continuous) AS ${ohlcv(a.bucket)} WITH NO DATA`);
        await ctx.target.query(`SELECT add_continuous_aggregate_policy('public.${a.view}', start_offset => interval '${a.start}', end_offset => interval '${a.end}', schedule_interval => interval '${a.every}')`);
      }
      return { layout: 'hypertable', chunkInterval: CHUNK_INTERVAL, compressAfter: COMPRESS_AFTER, aggregates: AGGREGATES.map((a) => a.view), createdExtensions, defaultsNotCarried: notCarried };
    },
    async rollback(ctx) {
      // TimescaleDB's drop deletes the aggregate's refresh job and kills it if it runs (the policy
      // starts at once); the dying job can delete a catalog row first ("tuple concurrently deleted").
      // That job has committed by then, so the drop is tried again.
      for (const a of [...AGGREGATES].reverse()) {
        await inTransactionRetrying(ctx.target, () => ctx.target.query(`DROP MATERIALIZED VIEW IF EXISTS public.${a.view} CASCADE`), /tuple concurrently (deleted|updated)/);
      }
      await ctx.target.query('DROP TABLE IF EXISTS public.tick_data, public.trades, public.users CASCADE');
      // timescaledb itself stays (empty): Timescale allows DROP EXTENSION only as the first command of a
      // fresh session, and this session has used it; dropping it here breaks every later statement.
      for (const ext of [...((ctx.recorded('expand').createdExtensions as string[] | undefined) ?? [])].reverse()) {
        if (ext !== 'timescaledb') await ctx.target.query(`DROP EXTENSION IF EXISTS "${ext}"`);
      }
    },
  },
  {
    id: 'backfill',
    title: 'change capture starts (one slot over the three tables), then users, trades, tick_data copied in parallel batches (resumable); old chunks compressed, aggregates materialised',
    // Each batch commits with its ledger row; compression and refresh are idempotent.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      // The slot exists before the first copy's snapshot: every later change reaches the target in the window.
      return withCaptureSet(ctx, captured(ctx), async () => {
        const copied: Record<string, unknown> = {};
        for (const t of TABLES) {
          const onProgress = (done: number, total: number) => {
            ctx.progress(done, total, `${t.name} batches`);
            ctx.checkpoint('batch');
          };
          const r = await copyAcross({ plan: ctx.plan.id, sourceUrl: ctx.settings.sourceUrl, targetUrl: ctx.settings.targetUrl, source: t, target: t, jobs: ctx.settings.jobs, ...(t === TICKS ? { primaryKey: ['id', 'ts'] } : {}), onProgress });
          copied[t.name] = { rows: r.rows, batches: r.batches, splitBy: r.splitBy, resumed: r.batchesResumed };
        }
        const foreignKeys = await addForeignKeys(ctx);
        const compressedChunks = await compressOldChunks(ctx);
        await refreshAggregates(ctx);
        return { copied, foreignKeys, compressedChunks };
      });
    },
    async rollback(ctx) {
      await stopCaptureSet(ctx, TABLES.map((t) => ({ source: t, target: t })));
      for (const t of TABLES) await forgetBatches(ctx.target, ctx.plan.id, `${t.schema}.${t.name}`);
      const present = (await ctx.target.query<{ n: string }>('SELECT x AS n FROM unnest($1::text[]) x WHERE to_regclass(x) IS NOT NULL', [NAMES])).rows.map((r) => r.n);
      if (present.length) await ctx.target.query(`TRUNCATE ${present.join(', ')}`);
    },
  },
  {
    id: 'verify',
    title: 'captured changes applied, segment hashes of the three tables converge, source vs target; aggregates hold every tick',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const parity = await captureSetParity(ctx, captured(ctx));
      await refreshAggregates(ctx);
      return { ...parity, ...(await aggregateTotals(ctx)) };
    },
  },
  {
    id: 'dual-write',
    title: 'window: inserts, updates and deletes on users, trades and tick_data captured on the source and applied; parity converges',
    transaction: false,
    idempotent: true,
    run: (ctx) => windowSyncSet(ctx, captured(ctx)),
  },
  {
    id: 'cutover',
    title: 'fence the three source tables, drain to the fence LSN, parity there; foreign keys validated, aggregates refreshed; readers switch (USE_TIMESCALEDB=true in the env vault); reverse capture on',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const capture = await cutoverSet(ctx, captured(ctx));
      const afterCapture = Date.now();
      // Nothing writes to the target until readers switch: the aggregates and keys are checked at the fence's state.
      const validated = await validateForeignKeys(ctx);
      await refreshAggregates(ctx);
      const totals = await aggregateTotals(ctx);
      const switched = await switchReaders(ctx, TIMESCALE_READERS.key, TIMESCALE_READERS.value);
      // From the fence until readers (and their writes) move to the target.
      const pauseUntilReadersMs = Number(capture.writePauseMs) + (Date.now() - afterCapture);
      return { ...capture, foreignKeysValidated: validated, ...totals, ...switched, pauseUntilReadersMs, readersSwitchedAt: new Date().toISOString() };
    },
    // Readers go back first, so writes stop reaching the target before its log is replayed onto the source.
    async rollback(ctx) {
      await switchReadersBack(ctx);
      await rollbackCutoverSet(ctx, captured(ctx));
    },
  },
  {
    id: 'cleanup',
    title: 'drop the replication slot, publication and reverse capture (the three source tables stay fenced, read-only)',
    transaction: false,
    idempotent: true,
    run: (ctx) => stopCaptureSet(ctx, captured(ctx)),
  },
];

export const supabaseToTimescale = definePlan<Options>({
  id: 'supabase-to-timescale',
  title: 'Supabase users, trades, tick_data → TimescaleDB (compressed hypertable, 4 OHLCV aggregates), verified',
  source: 'seed 004',
  crossDatabase: true,
  options: z.object({}).strict() as z.ZodType<Options>,
  scope: () => '',
  phases,
  parity: (ctx) => captureSetParity(ctx, captured(ctx)),
  lag: (ctx) => captureSetLag(ctx, TABLES.map((t) => ({ source: t }))),
});
