import type pg from 'pg';
import { qualify, quoteIdent, type TableName } from '../../stores/postgres/sql';

type Row = Record<string, unknown>;

/**
 * One change to replay by key. Values are JSON: text forms (forward capture,
 * read by each column's input function) or native JSON (reverse capture).
 */
export type RowChange =
  /** The row's complete new state (insert, or update of every column); oldKey when the key changed. */
  | { op: 'upsert'; row: Row; oldKey?: Row }
  /** Some columns of an existing row (an update that left TOASTed columns unchanged). */
  | { op: 'patch'; row: Row; oldKey?: Row }
  | { op: 'delete'; key: Row }
  | { op: 'truncate' };

export interface ApplyOptions {
  /**
   * Upsert rows in place (INSERT … ON CONFLICT (key) DO UPDATE) instead of
   * delete-then-insert: for a table other tables reference, where deleting a
   * row would trip (or cascade through) their foreign keys. Needs a unique
   * index on exactly the key; not for a hypertable whose key lacks the time column.
   */
  inPlace?: boolean;
}

type Final = { state: 'row'; row: Row } | { state: 'patch'; row: Row } | { state: 'gone' };

/**
 * How a batch of rows (a JSON array, $n) is read as columns: 'text' values
 * go through each column's own input function (exact for every type);
 * 'json' values (to_jsonb of a row) through jsonb_populate_recordset.
 */
export type ValueForm = { form: 'text'; types: Map<string, string> } | { form: 'json' };

function reader(t: string, form: ValueForm, param: string): { from: string; col: (name: string) => string } {
  if (form.form === 'json') return { from: `jsonb_populate_recordset(NULL::${t}, ${param}::jsonb) AS e`, col: (c) => `e.${quoteIdent(c)}` };
  return {
    from: `jsonb_array_elements(${param}::jsonb) AS e`,
    col: (c) => {
      const type = form.types.get(c);
      if (!type) throw new Error(`column "${c}" of the captured rows is not a column of ${t}`);
      return `(e->>${literal(c)})::${type}`;
    },
  };
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * Replay changes on table, in the caller's transaction, idempotently:
 * delete-by-key then insert, so a row the backfill already copied (or a
 * change replayed twice) converges on the source's state. Changes are first
 * folded to each key's final state, so a batch costs a few statements.
 */
export async function applyChanges(client: pg.ClientBase, table: TableName, key: string[], changes: RowChange[], form: ValueForm, opts: ApplyOptions = {}): Promise<void> {
  const t = qualify(table);
  const keyOf = (row: Row) => JSON.stringify(key.map((k) => row[k] ?? null));
  const keyRow = (row: Row) => Object.fromEntries(key.map((k) => [k, row[k] ?? null]));
  const keyList = key.map(quoteIdent).join(', ');
  let pending = new Map<string, { key: Row; final: Final }>();

  const select = (names: string[], param: string) => {
    const r = reader(t, form, param);
    return `SELECT ${names.map(r.col).join(', ')} FROM ${r.from}`;
  };

  async function patch(row: Row, where: Row): Promise<void> {
    const names = Object.keys(row);
    await client.query(`UPDATE ${t} SET (${names.map(quoteIdent).join(', ')}) = (${select(names, '$1')}) WHERE (${keyList}) = (${select(key, '$2')})`, [JSON.stringify([row]), JSON.stringify([where])]);
  }

  async function flush(): Promise<void> {
    if (!pending.size) return;
    const entries = [...pending.values()];
    pending = new Map();
    // In place, a row that stays is upserted, not deleted first: only rows that are gone are deleted.
    const replaced = entries.filter((e) => (opts.inPlace ? e.final.state === 'gone' : e.final.state !== 'patch')).map((e) => e.key);
    if (replaced.length) await client.query(`DELETE FROM ${t} WHERE (${keyList}) IN (${select(key, '$1')})`, [JSON.stringify(replaced)]);
    // Rows grouped by their column set (all rows of one relation share it).
    const groups = new Map<string, Row[]>();
    for (const e of entries) {
      if (e.final.state !== 'row') continue;
      const sig = JSON.stringify(Object.keys(e.final.row));
      groups.set(sig, [...(groups.get(sig) ?? []), e.final.row]);
    }
    for (const [sig, rows] of groups) {
      const names = JSON.parse(sig) as string[];
      const rest = names.filter((n) => !key.includes(n));
      const upsert = !opts.inPlace ? '' : ` ON CONFLICT (${keyList}) DO ${rest.length ? `UPDATE SET ${rest.map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ')}` : 'NOTHING'}`;
      await client.query(`INSERT INTO ${t} (${names.map(quoteIdent).join(', ')}) ${select(names, '$1')}${upsert}`, [JSON.stringify(rows)]);
    }
    for (const e of entries) if (e.final.state === 'patch') await patch(e.final.row, e.key);
  }

  for (const c of changes) {
    if (c.op === 'truncate') {
      await flush();
      await client.query(`TRUNCATE ${t}`);
      continue;
    }
    if (c.op === 'delete') {
      pending.set(keyOf(c.key), { key: keyRow(c.key), final: { state: 'gone' } });
      continue;
    }
    const k = keyOf(c.row);
    const moved = c.oldKey && keyOf(c.oldKey) !== k;
    if (c.op === 'upsert') {
      if (moved) pending.set(keyOf(c.oldKey!), { key: keyRow(c.oldKey!), final: { state: 'gone' } });
      pending.set(k, { key: keyRow(c.row), final: { state: 'row', row: c.row } });
      continue;
    }
    // A patch: the unchanged columns live in the target's current row.
    if (moved) {
      await flush();
      await patch(c.row, keyRow(c.oldKey!));
      continue;
    }
    const prev = pending.get(k)?.final;
    if (prev?.state === 'gone') continue; // the row is not there: a later change brings its state
    if (prev?.state === 'row') pending.set(k, { key: keyRow(c.row), final: { state: 'row', row: { ...prev.row, ...c.row } } });
    else pending.set(k, { key: keyRow(c.row), final: { state: 'patch', row: { ...(prev?.row ?? {}), ...c.row } } });
  }
  await flush();
}
