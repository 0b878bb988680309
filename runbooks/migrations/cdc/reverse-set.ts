import type pg from 'pg';
import { inTransaction } from '../../engine/transaction';
import type { TableName } from '../../stores/postgres/sql';
import { applyChanges, type RowChange } from './apply';
import { relationKey, type Route } from './stream';

/**
 * Reverse capture over several tables: each target table's triggers (see
 * reverse.ts) log under their own label in tickvault.cdc_reverse, and the
 * log's ids order the writes across tables as they were made.
 */
export const reverseLabel = (capture: string, source: TableName): string => `${capture} ${relationKey(source)}`;

/**
 * Replay every table's logged target writes onto the source, oldest first,
 * in one source transaction: consecutive writes to one table are one
 * applyChanges call; deferrable foreign keys are checked at commit. It passes
 * the fences (tickvault.cdc_apply); `beforeCommit` may lift them in the same
 * transaction. Then the replayed entries are forgotten (by key, replaying a
 * prefix twice after a crash between the two commits ends in the same state).
 */
export async function replayReverseSet(target: pg.ClientBase, source: pg.ClientBase, routes: Route[], capture: string, beforeCommit: () => Promise<void> = async () => undefined): Promise<number> {
  if (!(await target.query("SELECT to_regclass('tickvault.cdc_reverse') IS NOT NULL AS ok")).rows[0]?.ok) {
    await inTransaction(source, beforeCommit);
    return 0;
  }
  const byLabel = new Map(routes.map((r) => [reverseLabel(capture, r.source), r]));
  const { rows } = await target.query<{ id: string; capture: string; op: RowChange['op']; old_row: Record<string, unknown> | null; new_row: Record<string, unknown> | null }>(
    'SELECT id::text AS id, capture, op, old_row, new_row FROM tickvault.cdc_reverse WHERE capture = ANY($1) ORDER BY cdc_reverse.id',
    [[...byLabel.keys()]],
  );
  const change = (r: (typeof rows)[number]): RowChange => (r.op === 'truncate' ? { op: 'truncate' } : r.op === 'delete' ? { op: 'delete', key: r.old_row! } : { op: 'upsert', row: r.new_row!, ...(r.old_row ? { oldKey: r.old_row } : {}) });
  await inTransaction(source, async () => {
    await source.query("SELECT set_config('tickvault.cdc_apply', 'on', true)");
    await source.query('SET CONSTRAINTS ALL DEFERRED');
    for (let i = 0; i < rows.length; ) {
      const label = rows[i]!.capture;
      const run: RowChange[] = [];
      for (; i < rows.length && rows[i]!.capture === label; i++) run.push(change(rows[i]!));
      const route = byLabel.get(label)!;
      await applyChanges(source, route.source, route.key, run, { form: 'json' }, { inPlace: route.inPlace ?? false });
    }
    await beforeCommit();
  });
  if (rows.length) await target.query('DELETE FROM tickvault.cdc_reverse WHERE capture = ANY($1) AND id <= $2::bigint', [[...byLabel.keys()], rows[rows.length - 1]!.id]);
  return rows.length;
}
