import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { RefusedError } from '../../engine/errors';
import { connect } from '../../stores/postgres/connect';
import { qualify, quoteIdent, tableLabel, type TableName } from '../../stores/postgres/sql';
import { markDone, planBatches, type Batch } from './ledger';
import { createTableSql, describeTable, retargetIndex, type TableInfo } from './table-info';

const RANGE_TYPES = /^(smallint|integer|bigint|numeric|timestamp|date)/;
const ROWS_PER_BATCH = 200_000;

export interface CopyOptions {
  plan: string;
  sourceUrl: string;
  targetUrl: string;
  source: TableName;
  target: TableName;
  jobs: number;
  /** Target primary key when it must differ (partitioned targets need the partition column in it). */
  primaryKey?: string[];
  onProgress?: (done: number, total: number) => void;
}

export interface CopyResult {
  rows: number;
  batches: number;
  batchesResumed: number;
  splitBy: string;
  indexes: number;
}

/** Split by the first key column when it is a number or a time; else by block ranges. */
async function splitRanges(src: pg.ClientBase, info: TableInfo, jobs: number): Promise<{ by: string; ranges: { lo: string | null; hi: string | null }[] }> {
  const wanted = info.estimatedRows < 50_000 ? 1 : Math.max(jobs * 4, Math.ceil(info.estimatedRows / ROWS_PER_BATCH));
  const keyCol = info.primaryKey[0];
  const keyType = info.columns.find((c) => c.name === keyCol)?.type ?? '';
  if (keyCol && RANGE_TYPES.test(keyType) && wanted > 1) {
    const time = /^(timestamp|date)/.test(keyType);
    const expr = time ? `extract(epoch FROM ${quoteIdent(keyCol)})` : `${quoteIdent(keyCol)}::numeric`;
    const { rows } = await src.query<{ lo: string | null; hi: string | null }>(`SELECT min(${expr})::text AS lo, max(${expr})::text AS hi FROM ${qualify(info.table)}`);
    const lo = Number(rows[0]?.lo);
    const hi = Number(rows[0]?.hi);
    if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo) {
      const step = (hi - lo) / wanted;
      const at = (i: number) => {
        const v = lo + step * i;
        return time ? new Date(v * 1000).toISOString() : String(Math.floor(v));
      };
      return { by: keyCol, ranges: Array.from({ length: wanted }, (_, i) => ({ lo: i === 0 ? null : at(i), hi: i === wanted - 1 ? null : at(i + 1) })) };
    }
  }
  if (wanted > 1 && info.blocks > 0) {
    const step = Math.ceil(info.blocks / wanted);
    return { by: 'ctid', ranges: Array.from({ length: wanted }, (_, i) => ({ lo: i === 0 ? null : String(i * step), hi: i === wanted - 1 ? null : String((i + 1) * step) })) };
  }
  return { by: 'none', ranges: [{ lo: null, hi: null }] };
}

function predicate(by: string, type: string, batch: Batch, escape: (v: string) => string): string {
  if (by === 'none') return 'true';
  const parts: string[] = [];
  if (by === 'ctid') {
    if (batch.lo !== null) parts.push(`ctid >= '(${Number(batch.lo)},0)'::tid`);
    if (batch.hi !== null) parts.push(`ctid < '(${Number(batch.hi)},0)'::tid`);
  } else {
    const cast = type.replace(/\(.*\)/, '');
    if (batch.lo !== null) parts.push(`${quoteIdent(by)} >= ${escape(batch.lo)}::${cast}`);
    if (batch.hi !== null) parts.push(`${quoteIdent(by)} < ${escape(batch.hi)}::${cast}`);
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

/**
 * Copy one table between databases: parallel workers stream binary COPY
 * for key or block ranges, each batch committed with its ledger row; keys
 * and indexes are built after the data, two at a time.
 */
export async function copyAcross(opts: CopyOptions): Promise<CopyResult> {
  const src = await connect(opts.sourceUrl, '--source-url');
  const tgt = await connect(opts.targetUrl, '--target-url');
  try {
    const info = await describeTable(src, opts.source);
    const key = `${tableLabel(opts.target)}`;
    const exists = (await tgt.query('SELECT to_regclass($1) IS NOT NULL AS ok', [qualify(opts.target)])).rows[0]?.ok as boolean;
    const ledger = await tgt.query("SELECT 1 FROM pg_namespace WHERE nspname = 'tickvault'").then(async (r) => (r.rowCount ? (await tgt.query("SELECT to_regclass('tickvault.copy_batches') IS NOT NULL AS ok")).rows[0]?.ok : false));
    const known = ledger ? ((await tgt.query('SELECT 1 FROM tickvault.copy_batches WHERE plan = $1 AND target = $2 LIMIT 1', [opts.plan, key])).rowCount ?? 0) > 0 : false;
    if (exists && !known && ((await tgt.query(`SELECT 1 FROM ${qualify(opts.target)} LIMIT 1`)).rowCount ?? 0) > 0) {
      throw new RefusedError(`target table ${key} already holds rows and no copy of this plan started it; nothing was changed`, { hint: 'copy into a new or empty table' });
    }
    await tgt.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.target.schema)}`);
    await tgt.query(createTableSql(info, opts.target));
    const split = await splitRanges(src, info, opts.jobs);
    const { batches, resumed } = await planBatches(tgt, opts.plan, key, async () => split.ranges);
    const by = resumed ? (await splitRanges(src, info, opts.jobs)).by : split.by;
    const keyType = info.columns.find((c) => c.name === by)?.type ?? '';
    const columns = info.columns.map((c) => quoteIdent(c.name)).join(', ');
    const pending = batches.filter((b) => b.state === 'pending');
    const alreadyDone = batches.length - pending.length;
    let done = alreadyDone;
    let rows = batches.reduce((sum, b) => sum + (b.rows ?? 0), 0);

    const worker = async () => {
      const s = await connect(opts.sourceUrl, '--source-url');
      const t = await connect(opts.targetUrl, '--target-url');
      try {
        for (let batch = pending.shift(); batch; batch = pending.shift()) {
          const started = Date.now();
          await t.query('BEGIN');
          try {
            const into = t.query(copyFrom(`COPY ${qualify(opts.target)} (${columns}) FROM STDIN (FORMAT binary)`));
            const out = s.query(copyTo(`COPY (SELECT ${columns} FROM ${qualify(opts.source)} WHERE ${predicate(by, keyType, batch, (v) => s.escapeLiteral(v))}) TO STDOUT (FORMAT binary)`));
            await pipeline(out, into);
            const copied = Number(into.rowCount ?? 0);
            await markDone(t, opts.plan, key, batch.batch, copied, Date.now() - started);
            await t.query('COMMIT');
            rows += copied;
            opts.onProgress?.(++done, batches.length);
          } catch (error) {
            await t.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
        }
      } finally {
        await s.end().catch(() => undefined);
        await t.end().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs, pending.length)) }, worker));

    // Keys and indexes after the data (pgcopydb): unique index first, then the constraint on it.
    const ddl: string[] = [];
    const pkColumns = opts.primaryKey ?? info.primaryKey;
    if (info.primaryKeyName && pkColumns.length) {
      const hasPk = (await tgt.query("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'", [qualify(opts.target)])).rowCount;
      if (!hasPk) ddl.push(`ALTER TABLE ${qualify(opts.target)} ADD CONSTRAINT ${quoteIdent(info.primaryKeyName)} PRIMARY KEY (${pkColumns.map(quoteIdent).join(', ')})`);
    }
    const indexDdl = info.indexes.map((i) => retargetIndex(i.definition, opts.source, opts.target));
    const queue = [...ddl, ...indexDdl];
    const builders = Array.from({ length: Math.min(2, queue.length) }, async () => {
      const c = await connect(opts.targetUrl, '--target-url');
      try {
        await c.query("SET maintenance_work_mem = '512MB'");
        for (let stmt = queue.shift(); stmt; stmt = queue.shift()) await c.query(stmt);
      } finally {
        await c.end();
      }
    });
    await Promise.all(builders);
    await tgt.query(`ANALYZE ${qualify(opts.target)}`);
    return { rows, batches: batches.length, batchesResumed: resumed ? alreadyDone : 0, splitBy: by, indexes: indexDdl.length };
  } finally {
    await src.end().catch(() => undefined);
    await tgt.end().catch(() => undefined);
  }
}
