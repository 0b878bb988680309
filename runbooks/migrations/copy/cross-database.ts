import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { RefusedError, UsageError } from '../../engine/errors';
import { pgWorker, runPool } from '../../engine/pool';
import { inTransaction } from '../../engine/transaction';
import { connect, connectBoth } from '../../stores/postgres/connect';
import { NORMALISE_SESSION, qualify, quoteIdent, tableLabel, type TableName } from '../../stores/postgres/sql';
import { copySequenceValues, planFaithfulSchema, type NotCarried } from './faithful-schema';
import { ensureLedger, ledgerKey, markDone, readSchemaRecord, readSplit, recordSplit, writeSchemaRecord, type Batch, type SchemaRecord, type Split } from './ledger';
import { batchPredicate, computeSplit } from './split';
import { createTableSql, describeTable, retargetIndex, type TableInfo } from './table-info';

export interface CopyOptions {
  plan: string;
  sourceUrl: string;
  targetUrl: string;
  source: TableName;
  target: TableName;
  jobs: number;
  /**
   * faithful: the target table is made here from the source's own DDL
   * (pg_dump), with its partitions and what it depends on; the copy refuses
   * a target table it did not create. simple: the plan made (or lets this
   * make) a plain table, and keys/indexes are added after the data.
   */
  schema?: 'faithful' | 'simple';
  /** simple only: target primary key when it must differ (partitioned targets need the partition column in it). */
  primaryKey?: string[];
  onProgress?: (done: number, total: number) => void;
}

export interface CopyResult {
  rows: number;
  batches: number;
  batchesResumed: number;
  splitBy: string;
  format: 'binary' | 'text';
  indexes: number;
  /** What the target did not get, and why (faithful copies). */
  notCarried: NotCarried[];
  /** Objects this copy created on the target (faithful copies). */
  created: string[];
}

/** Test hook: kill this process (SIGKILL, like kill -9) once this many batches have committed in this run. */
const KILL_AFTER = Number(process.env.TICKVAULT_TEST_KILL_AFTER_BATCHES ?? 0);

/** A short-lived connection for DDL scripts (pg_restore's scripts change session settings). */
async function withDdl<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(url, '--target-url', 'tickvault-ddl');
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const tableExists = async (c: pg.ClientBase, t: TableName) => Boolean((await c.query('SELECT to_regclass($1) IS NOT NULL AS ok', [qualify(t)])).rows[0]?.ok);

/** First run: create what the target needs and store the split with its batches, atomically. */
async function start(opts: CopyOptions, src: pg.Client, tgt: pg.Client, info: TableInfo, key: string): Promise<{ split: Split; batches: Batch[] }> {
  const label = tableLabel(opts.target);
  const exists = await tableExists(tgt, opts.target);
  if (opts.schema === 'faithful') {
    if (tableLabel(opts.source) !== label) throw new UsageError('a faithful copy keeps the table\'s name: source and target table must be the same');
    if (exists) throw new RefusedError(`the target already has table ${label}, which this copy did not create; nothing was changed`, { hint: 'copy into a database without it, or drop it there first' });
    const schema = await planFaithfulSchema(src, tgt, opts.sourceUrl, opts.source);
    const split = await computeSplit(src, info, opts.jobs);
    const record: SchemaRecord = { state: 'pre-data', created: schema.created, notCarried: schema.notCarried, postData: schema.postData, optional: schema.optional, sequences: schema.sequences };
    const batches = await withDdl(opts.targetUrl, (c) => inTransaction(c, async () => {
      await c.query(schema.preData);
      await writeSchemaRecord(c, opts.plan, key, record);
      return recordSplit(c, opts.plan, key, split);
    }));
    return { split, batches };
  }
  if (exists && ((await tgt.query(`SELECT 1 FROM ${qualify(opts.target)} LIMIT 1`)).rowCount ?? 0) > 0) {
    throw new RefusedError(`target table ${label} already holds rows and no copy of this plan started it; nothing was changed`, { hint: 'copy into a new or empty table' });
  }
  await tgt.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.target.schema)}`);
  await tgt.query(createTableSql(info, opts.target));
  // Into a hypertable: batches follow its chunk boundaries.
  const split = await computeSplit(src, info, opts.jobs, { client: tgt, table: opts.target });
  return { split, batches: await inTransaction(tgt, () => recordSplit(tgt, opts.plan, key, split)) };
}

/** A resume uses the stored split; if its column is gone or changed type, the stored ranges mean nothing: refuse. */
function checkStoredSplit(split: Split, info: TableInfo): void {
  if (split.method !== 'key') return;
  const col = info.columns.find((c) => c.name === split.column);
  if (!col || col.type !== split.type) {
    throw new RefusedError(`the copy of ${tableLabel(info.table)} was split by ${split.column} (${split.type}), which the source ${col ? `now has as ${col.type}` : 'no longer has'}; the stored ranges no longer apply`, { hint: 'roll the copy back and run it again' });
  }
}

/** Stream the pending batches on a pool of source/target connection pairs; each batch commits with its ledger row. */
async function copyBatches(opts: CopyOptions, info: TableInfo, key: string, split: Split, batches: Batch[], format: 'binary' | 'text'): Promise<number> {
  const columns = info.columns.map((c) => quoteIdent(c.name)).join(', ');
  const pending = batches.filter((b) => b.state === 'pending');
  let done = batches.length - pending.length;
  let committedHere = 0;
  let rows = 0;
  type Worker = { s?: pg.Client; t?: pg.Client };
  const open = async (): Promise<Worker> => {
    const w: Worker = {};
    try {
      [w.s, w.t] = await connectBoth({ url: opts.sourceUrl, label: '--source-url', app: 'tickvault-copy' }, { url: opts.targetUrl, label: '--target-url', app: 'tickvault-copy' });
      // Text COPY must print and parse values the same way on both sides.
      if (format === 'text') await Promise.all([w.s.query(NORMALISE_SESSION), w.t.query(NORMALISE_SESSION)]);
      return w;
    } catch (error) {
      await Promise.all([w.s?.end().catch(() => undefined), w.t?.end().catch(() => undefined)]);
      throw error;
    }
  };
  await runPool(pending, { workers: opts.jobs, open, ...pgWorker((w: Worker) => [w.s, w.t]) }, async (batch, { s, t }, signal) => {
    const started = Date.now();
    await inTransaction(t!, async () => {
      // A sibling failed while BEGIN ran: start nothing (the pool only cancels queries already running).
      signal.throwIfAborted();
      const into = t!.query(copyFrom(`COPY ${qualify(opts.target)} (${columns}) FROM STDIN (FORMAT ${format})`));
      const out = s!.query(copyTo(`COPY (SELECT ${columns} FROM ${info.from} WHERE ${batchPredicate(split, batch, (v) => s!.escapeLiteral(v))}) TO STDOUT (FORMAT ${format})`));
      await pipeline(out, into);
      const copied = Number(into.rowCount ?? 0);
      await markDone(t!, opts.plan, key, batch.batch, copied, Date.now() - started);
      rows += copied;
    });
    opts.onProgress?.(++done, batches.length);
    if (KILL_AFTER > 0 && ++committedHere >= KILL_AFTER) process.kill(process.pid, 'SIGKILL');
  });
  return rows;
}

/** Faithful copies: keys, indexes and checks after the data (one transaction), then what may fail on its own. */
async function finishFaithful(opts: CopyOptions, src: pg.Client, tgt: pg.Client, key: string): Promise<{ notCarried: NotCarried[]; created: string[] }> {
  const record = await readSchemaRecord(tgt, opts.plan, key);
  if (!record) throw new Error(`the copy ledger of ${key} has no schema record; roll the copy back and run it again`);
  await withDdl(opts.targetUrl, async (c) => {
    if (record.state === 'pre-data') {
      record.state = 'post-data';
      await inTransaction(c, async () => {
        await c.query(record.postData);
        await writeSchemaRecord(c, opts.plan, key, record);
      });
    }
    for (const item of record.optional.filter((o) => o.state === 'pending')) {
      try {
        item.state = 'done';
        await inTransaction(c, async () => {
          await c.query(item.sql);
          await writeSchemaRecord(c, opts.plan, key, record);
        });
      } catch (error) {
        item.state = 'not carried';
        item.reason = (error as Error).message;
        await writeSchemaRecord(c, opts.plan, key, record);
      }
    }
    await copySequenceValues(src, c, record.sequences);
  });
  const failed = record.optional.filter((o) => o.state === 'not carried').map((o) => ({ kind: o.kind, name: o.name, reason: o.reason ?? 'failed' }));
  return { notCarried: [...record.notCarried, ...failed], created: record.created.map((c) => `${c.kind} ${c.sql}`) };
}

/** Simple copies: the primary key and indexes after the data (pgcopydb), two builders at a time. */
async function finishSimple(opts: CopyOptions, tgt: pg.Client, info: TableInfo): Promise<number> {
  const ddl: string[] = [];
  const pkColumns = opts.primaryKey ?? info.primaryKey;
  if (info.primaryKeyName && pkColumns.length) {
    const hasPk = (await tgt.query("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'", [qualify(opts.target)])).rowCount;
    if (!hasPk) ddl.push(`ALTER TABLE ${qualify(opts.target)} ADD CONSTRAINT ${quoteIdent(info.primaryKeyName)} PRIMARY KEY (${pkColumns.map(quoteIdent).join(', ')})`);
  }
  const indexDdl = info.indexes.map((i) => retargetIndex(i.definition, opts.source, opts.target));
  const open = async () => {
    const c = await connect(opts.targetUrl, '--target-url', 'tickvault-copy');
    await c.query("SET maintenance_work_mem = '512MB'").catch(async (error) => {
      await c.end();
      throw error;
    });
    return c;
  };
  await runPool([...ddl, ...indexDdl], { workers: 2, open, ...pgWorker((c: pg.Client) => [c]) }, async (stmt, c) => c.query(stmt));
  return indexDdl.length;
}

/**
 * Copy one table between databases: parallel workers stream COPY for key or
 * block ranges, each batch committed with its ledger row; the split is
 * stored with the batches and a resume never re-computes it. Keys and
 * indexes come after the data.
 */
export async function copyAcross(opts: CopyOptions): Promise<CopyResult> {
  const [src, tgt] = await connectBoth({ url: opts.sourceUrl, label: '--source-url' }, { url: opts.targetUrl, label: '--target-url' });
  try {
    const info = await describeTable(src, opts.source);
    const key = ledgerKey(opts.target);
    await ensureLedger(tgt);
    const stored = await readSplit(tgt, opts.plan, key);
    const resumed = stored !== undefined;
    if (stored) checkStoredSplit(stored.split, info);
    const { split, batches } = stored ?? (await start(opts, src, tgt, info, key));
    const format = info.columns.some((c) => c.userType) ? 'text' : 'binary';
    await copyBatches(opts, info, key, split, batches, format);
    const totals = await tgt.query<{ rows: string; done: string }>("SELECT coalesce(sum(rows), 0)::text AS rows, count(*) FILTER (WHERE state = 'done')::text AS done FROM tickvault.copy_batches WHERE plan = $1 AND target = $2", [opts.plan, key]);
    let notCarried: NotCarried[] = [];
    let created: string[] = [];
    let indexes = 0;
    if (opts.schema === 'faithful') ({ notCarried, created } = await finishFaithful(opts, src, tgt, key));
    else indexes = await finishSimple(opts, tgt, info);
    await tgt.query(`ANALYZE ${qualify(opts.target)}`);
    return {
      rows: Number(totals.rows[0]!.rows),
      batches: batches.length,
      batchesResumed: resumed ? batches.filter((b) => b.state === 'done').length : 0,
      splitBy: split.method === 'key' ? split.column! : split.method,
      format,
      indexes,
      notCarried,
      created,
    };
  } finally {
    await src.end().catch(() => undefined);
    await tgt.end().catch(() => undefined);
  }
}
