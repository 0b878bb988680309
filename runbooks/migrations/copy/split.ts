import type pg from 'pg';
import { quoteIdent, type TableName } from '../../stores/postgres/sql';
import type { Batch, Split } from './ledger';
import type { TableInfo } from './table-info';

const RANGE_TYPES = /^(smallint|integer|bigint|numeric|timestamp|date)/;
const ROWS_PER_BATCH = 200_000;

/**
 * Split by the first key column when it is a number or a time; else by block
 * ranges (plain tables only: a partitioned table has no blocks of its own).
 * Called once per copy; the result goes into the ledger.
 */
export async function computeSplit(src: pg.ClientBase, info: TableInfo, jobs: number, into?: { client: pg.ClientBase; table: TableName }): Promise<Split> {
  const chunked = into ? await chunkAlignedSplit(src, info, jobs, into.client, into.table) : undefined;
  if (chunked) return chunked;
  const wanted = info.estimatedRows < 50_000 ? 1 : Math.max(jobs * 4, Math.ceil(info.estimatedRows / ROWS_PER_BATCH));
  const keyCol = info.primaryKey[0];
  const keyType = info.columns.find((c) => c.name === keyCol)?.type ?? '';
  if (keyCol && RANGE_TYPES.test(keyType) && wanted > 1) {
    const time = /^(timestamp|date)/.test(keyType);
    const expr = time ? `extract(epoch FROM ${quoteIdent(keyCol)})` : `${quoteIdent(keyCol)}::numeric`;
    const { rows } = await src.query<{ lo: string | null; hi: string | null }>(`SELECT min(${expr})::text AS lo, max(${expr})::text AS hi FROM ${info.from}`);
    const lo = Number(rows[0]?.lo);
    const hi = Number(rows[0]?.hi);
    if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo) {
      const step = (hi - lo) / wanted;
      const at = (i: number) => {
        const v = lo + step * i;
        return time ? new Date(v * 1000).toISOString() : String(Math.floor(v));
      };
      return { method: 'key', column: keyCol, type: keyType, ranges: Array.from({ length: wanted }, (_, i) => ({ lo: i === 0 ? null : at(i), hi: i === wanted - 1 ? null : at(i + 1) })) };
    }
  }
  if (wanted > 1 && info.kind === 'r' && info.blocks > 0) {
    const step = Math.ceil(info.blocks / wanted);
    return { method: 'ctid', column: null, type: null, ranges: Array.from({ length: wanted }, (_, i) => ({ lo: i === 0 ? null : String(i * step), hi: i === wanted - 1 ? null : String((i + 1) * step) })) };
  }
  return { method: 'none', column: null, type: null, ranges: [{ lo: null, hi: null }] };
}

/** The WHERE clause of one batch, from the stored split (never from a fresh one). */
export function batchPredicate(split: Pick<Split, 'method' | 'column' | 'type'>, batch: Pick<Batch, 'lo' | 'hi'>, literal: (v: string) => string): string {
  const parts: string[] = [];
  if (split.method === 'ctid') {
    if (batch.lo !== null) parts.push(`ctid >= '(${Number(batch.lo)},0)'::tid`);
    if (batch.hi !== null) parts.push(`ctid < '(${Number(batch.hi)},0)'::tid`);
  } else if (split.method === 'key') {
    const cast = (split.type ?? '').replace(/\(.*\)/, '');
    if (batch.lo !== null) parts.push(`${quoteIdent(split.column!)} >= ${literal(batch.lo)}::${cast}`);
    if (batch.hi !== null) parts.push(`${quoteIdent(split.column!)} < ${literal(batch.hi)}::${cast}`);
  }
  return parts.length ? parts.join(' AND ') : 'true';
}

/** The target's time dimension when it is a hypertable partitioned by a fixed interval, else undefined. */
async function hypertableTime(tgt: pg.ClientBase, table: TableName): Promise<{ column: string; seconds: number } | undefined> {
  if (!(await tgt.query("SELECT to_regclass('timescaledb_information.dimensions') IS NOT NULL AS ok")).rows[0]?.ok) return undefined;
  const { rows } = await tgt.query<{ column: string; seconds: string | null }>(
    "SELECT column_name AS column, extract(epoch FROM time_interval)::text AS seconds FROM timescaledb_information.dimensions WHERE hypertable_schema = $1 AND hypertable_name = $2 AND dimension_type = 'Time' ORDER BY dimension_number LIMIT 1",
    [table.schema, table.name],
  );
  const r = rows[0];
  return r?.seconds ? { column: r.column, seconds: Number(r.seconds) } : undefined;
}

/**
 * Into a hypertable: split by its time column on the target's chunk
 * boundaries (TimescaleDB aligns fixed-interval chunks to multiples of the
 * interval since the Unix epoch), each batch a run of whole chunks, so
 * parallel workers never write into the same chunk. undefined when the
 * target is no hypertable or the source column is not a time.
 */
export async function chunkAlignedSplit(src: pg.ClientBase, info: TableInfo, jobs: number, tgt: pg.ClientBase, target: TableName): Promise<Split | undefined> {
  const dim = await hypertableTime(tgt, target);
  if (!dim) return undefined;
  const type = info.columns.find((c) => c.name === dim.column)?.type ?? '';
  if (!/^timestamp/.test(type)) return undefined;
  const { rows } = await src.query<{ lo: string | null; hi: string | null }>(`SELECT extract(epoch FROM min(${quoteIdent(dim.column)}))::text AS lo, extract(epoch FROM max(${quoteIdent(dim.column)}))::text AS hi FROM ${info.from}`);
  const lo = Number(rows[0]?.lo);
  const hi = Number(rows[0]?.hi);
  if (rows[0]?.lo == null || !Number.isFinite(lo) || !Number.isFinite(hi)) return { method: 'none', column: null, type: null, ranges: [{ lo: null, hi: null }] };
  const first = Math.floor(lo / dim.seconds);
  const chunks = Math.floor(hi / dim.seconds) - first + 1;
  const wanted = Math.min(chunks, Math.max(jobs * 4, Math.ceil(info.estimatedRows / ROWS_PER_BATCH)));
  const per = Math.ceil(chunks / wanted);
  const count = Math.ceil(chunks / per);
  // A timestamp without time zone is compared as UTC wall time (extract(epoch) reads it so).
  const at = (k: number) => new Date((first + k * per) * dim.seconds * 1000).toISOString().replace(/Z$/, /with time zone/.test(type) ? 'Z' : '');
  return { method: 'key', column: dim.column, type, ranges: Array.from({ length: count }, (_, i) => ({ lo: i === 0 ? null : at(i), hi: i === count - 1 ? null : at(i + 1) })) };
}
