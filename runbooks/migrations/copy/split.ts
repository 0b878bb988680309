import type pg from 'pg';
import { quoteIdent } from '../../stores/postgres/sql';
import type { Batch, Split } from './ledger';
import type { TableInfo } from './table-info';

const RANGE_TYPES = /^(smallint|integer|bigint|numeric|timestamp|date)/;
const ROWS_PER_BATCH = 200_000;

/**
 * Split by the first key column when it is a number or a time; else by block
 * ranges (plain tables only: a partitioned table has no blocks of its own).
 * Called once per copy; the result goes into the ledger.
 */
export async function computeSplit(src: pg.ClientBase, info: TableInfo, jobs: number): Promise<Split> {
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
