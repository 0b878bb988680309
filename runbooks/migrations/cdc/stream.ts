import type pg from 'pg';
import { inTransaction } from '../../engine/transaction';
import { qualify, type TableName } from '../../stores/postgres/sql';
import { applyChanges, type ApplyOptions, type RowChange } from './apply';
import { lsnAfter } from './lsn';
import { decode, type RelationInfo, type Tuple } from './pgoutput';
import { advanceProgress, readProgress, zeroCounts, type Counts } from './progress';

export interface CaptureSpec {
  /** Slot and publication name on the source, progress row on the target. */
  name: string;
  target: TableName;
  /** The source's key columns (its primary key), present on the target too. */
  key: string[];
  /**
   * Several tables in one capture (one slot, one publication): each source
   * table's changes go to its own target table. Without routes, every change
   * goes to `target`.
   */
  routes?: Route[];
}

export interface Route extends ApplyOptions {
  source: TableName;
  target: TableName;
  key: string[];
}

/** How a relation is named in a transaction's changes (schema and name may hold dots). */
export const relationKey = (t: TableName): string => JSON.stringify([t.schema, t.name]);

export interface DrainResult {
  /** Everything the source committed before this LSN is on the target. */
  upto: string;
  applied: Counts;
  batches: number;
}

interface Txn {
  endLsn: string;
  commitTime: Date;
  changes: RowChange[];
  /** The source relation of each change (relationKey), parallel to changes. */
  rels: string[];
  counts: Counts;
}

/** The target's column types, so text values go through each column's input function. */
export async function columnTypes(target: pg.ClientBase, table: TableName): Promise<Map<string, string>> {
  const { rows } = await target.query<{ name: string; type: string }>(
    "SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
    [qualify(table)],
  );
  return new Map(rows.map((r) => [r.name, r.type]));
}

function rowOf(relation: RelationInfo, tuple: Tuple): { row: Record<string, unknown>; unchanged: number } {
  const row: Record<string, unknown> = {};
  let unchanged = 0;
  relation.columns.forEach((c, i) => {
    const v = tuple[i];
    if (v !== null && typeof v === 'object') unchanged++;
    else row[c.name] = v ?? null;
  });
  return { row, unchanged };
}

/** Turn one peek's messages into whole transactions of row changes. */
function transactions(rows: { data: Buffer }[], truncatePerRelation = false): Txn[] {
  const relations = new Map<number, RelationInfo>();
  const out: Txn[] = [];
  let cur: Txn | undefined;
  const rel = (id: number) => {
    const r = relations.get(id);
    if (!r) throw new Error(`pgoutput: change for relation ${id} before its description`);
    return r;
  };
  for (const { data } of rows) {
    const m = decode(data);
    if (m.tag === 'begin') cur = { endLsn: '', commitTime: m.commitTime, changes: [], rels: [], counts: { ...zeroCounts(), transactions: 1 } };
    else if (m.tag === 'relation') relations.set(m.relation.id, m.relation);
    else if (m.tag === 'commit' && cur) {
      cur.endLsn = m.endLsn;
      cur.commitTime = m.commitTime;
      out.push(cur);
      cur = undefined;
    } else if (!cur) continue;
    else if (m.tag === 'insert') {
      cur.changes.push({ op: 'upsert', row: rowOf(rel(m.relationId), m.row).row });
      cur.rels.push(relationKey(rel(m.relationId)));
      cur.counts.inserts++;
    } else if (m.tag === 'update') {
      const r = rel(m.relationId);
      const { row, unchanged } = rowOf(r, m.row);
      const oldKey = m.old ? rowOf(r, m.old).row : undefined;
      cur.changes.push({ op: unchanged ? 'patch' : 'upsert', row, ...(oldKey ? { oldKey } : {}) });
      cur.rels.push(relationKey(r));
      cur.counts.updates++;
    } else if (m.tag === 'delete') {
      cur.changes.push({ op: 'delete', key: rowOf(rel(m.relationId), m.old).row });
      cur.rels.push(relationKey(rel(m.relationId)));
      cur.counts.deletes++;
    } else if (m.tag === 'truncate') {
      for (const id of truncatePerRelation ? m.relationIds : [m.relationIds[0]!]) {
        cur.changes.push({ op: 'truncate' });
        cur.rels.push(relationKey(rel(id)));
      }
      cur.counts.truncates++;
    }
  }
  return out;
}

const add = (a: Counts, b: Counts): Counts => ({ transactions: a.transactions + b.transactions, inserts: a.inserts + b.inserts, updates: a.updates + b.updates, deletes: a.deletes + b.deletes, truncates: a.truncates + b.truncates });

/**
 * Apply every change the source committed before `upto` (default: its
 * current WAL position) to the target. Each batch of whole transactions
 * commits on the target together with the progress row, and only then is
 * the slot advanced: a kill -9 between the two replays nothing twice, as
 * transactions at or below the stored position are skipped.
 */
export async function drain(source: pg.ClientBase, target: pg.ClientBase, spec: CaptureSpec, opts: { upto?: string; batchRows?: number; onBatch?: (applied: Counts) => void; checkpoint?: (name: string) => void } = {}): Promise<DrainResult> {
  const upto = opts.upto ?? (await source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
  const types = spec.routes ? new Map<string, string>() : await columnTypes(target, spec.target);
  // One query at a time on the one target session (pg@9 refuses queued queries).
  let routeTypes: Map<string, Map<string, string>> | undefined;
  if (spec.routes) {
    routeTypes = new Map();
    for (const r of spec.routes) routeTypes.set(relationKey(r.source), await columnTypes(target, r.target));
  }
  let applied = zeroCounts();
  let batches = 0;
  for (;;) {
    const progress = await readProgress(target, spec.name);
    if (!progress) throw new Error(`change capture ${spec.name} has no progress row on the target (was backfill rolled back?)`);
    const { rows } = await source.query<{ data: Buffer }>(
      `SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, $3, 'proto_version', '1', 'publication_names', $4)`,
      [spec.name, upto, opts.batchRows ?? 20_000, spec.name],
    );
    const txns = transactions(rows, Boolean(spec.routes));
    if (!txns.length) {
      // Nothing more before `upto`: move slot and progress there, so lag reads zero.
      await inTransaction(target, () => advanceProgress(target, spec.name, upto, zeroCounts(), null));
      await source.query('SELECT pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM pg_replication_slots WHERE slot_name = $1 AND confirmed_flush_lsn < $2::pg_lsn', [spec.name, upto]);
      return { upto, applied, batches };
    }
    const fresh = txns.filter((t) => lsnAfter(t.endLsn, progress.lsn));
    const last = txns[txns.length - 1]!;
    if (fresh.length) {
      const counts = fresh.reduce((a, t) => add(a, t.counts), zeroCounts());
      await inTransaction(target, async () => {
        if (spec.routes) await applyRouted(target, spec.routes, fresh, routeTypes ?? new Map());
        else await applyChanges(target, spec.target, spec.key, fresh.flatMap((t) => t.changes), { form: 'text', types });
        await advanceProgress(target, spec.name, last.endLsn, counts, last.commitTime);
      });
      applied = add(applied, counts);
      batches++;
      opts.onBatch?.(applied);
    }
    // Target committed: a kill here re-reads these transactions and skips them.
    opts.checkpoint?.('cdc-applied');
    await source.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [spec.name, last.endLsn]);
  }
}

/**
 * Apply the changes of several tables: each table's changes, in source
 * commit order, in one applyChanges call, tables in route order. Order
 * across tables is not kept, so foreign keys among routed tables must be
 * DEFERRABLE on the target (checked at this batch's commit, a source
 * transaction boundary); grouping keeps a batch to a few statements per table.
 */
async function applyRouted(target: pg.ClientBase, routes: Route[], txns: Txn[], types: Map<string, Map<string, string>>): Promise<void> {
  const byRel = new Map(routes.map((r) => [relationKey(r.source), [] as RowChange[]]));
  for (const t of txns) {
    t.changes.forEach((c, i) => {
      const list = byRel.get(t.rels[i]!);
      if (!list) throw new Error(`change capture: a change to ${t.rels[i]} which this capture does not route to a target table`);
      list.push(c);
    });
  }
  await target.query('SET CONSTRAINTS ALL DEFERRED');
  for (const route of routes) {
    const changes = byRel.get(relationKey(route.source))!;
    if (changes.length) await applyChanges(target, route.target, route.key, changes, { form: 'text', types: types.get(relationKey(route.source))! }, { inPlace: route.inPlace ?? false });
  }
}
