import type pg from 'pg';
import { RefusedError } from '../../engine/errors';

/** One source value stream into one target column. */
export interface ValueMapping {
  /** Target column, for the message: table.column. */
  to: string;
  /** The target column's type, e.g. numeric(20,8), integer, varchar(12). */
  type: string;
  /** The value as SQL over `from`. */
  expr: string;
  /** FROM clause (and WHERE) of the source rows. */
  from: string;
}

/**
 * SQL that is true when a value would not come out of the target type as it
 * went in: rounded (scale), overflowing (precision, integer range) or cut
 * (length). Types not listed hold every value of their source unchanged.
 */
export function lossPredicate(expr: string, type: string): string | null {
  const t = type.toLowerCase().replace(/\s+/g, ' ').trim();
  const e = `(${expr})`;
  const numeric = /^(?:numeric|decimal)\((\d+)(?:,\s*(\d+))?\)$/.exec(t);
  if (numeric) {
    const p = Number(numeric[1]);
    const s = Number(numeric[2] ?? 0);
    return `(${e}::numeric <> round(${e}::numeric, ${s}) OR abs(round(${e}::numeric, ${s})) >= 1e${p - s})`;
  }
  const ints: Record<string, [string, string]> = { smallint: ['-32768', '32767'], integer: ['-2147483648', '2147483647'], int: ['-2147483648', '2147483647'], int4: ['-2147483648', '2147483647'], bigint: ['-9223372036854775808', '9223372036854775807'], int8: ['-9223372036854775808', '9223372036854775807'] };
  if (ints[t]) return `(${e}::numeric <> trunc(${e}::numeric) OR ${e}::numeric NOT BETWEEN ${ints[t][0]} AND ${ints[t][1]})`;
  if (t === 'real' || t === 'double precision') return `(${e}::numeric <> (${e}::${t})::numeric)`;
  const chars = /^(?:character varying|varchar|character|char)\((\d+)\)$/.exec(t);
  if (chars) return `(length(${e}::text) > ${chars[1]})`;
  return null;
}

/** How many source values would change in the target column. */
export async function valuesThatChange(client: pg.ClientBase, m: ValueMapping): Promise<number> {
  const loss = lossPredicate(m.expr, m.type);
  if (!loss) return 0;
  const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${m.from} ${/\bwhere\b/i.test(m.from) ? 'AND' : 'WHERE'} (${m.expr}) IS NOT NULL AND ${loss}`);
  return Number(rows[0]!.n);
}

/** Preflight's proof: every value survives its target type, or refuse naming each column and count. */
export async function refuseValueChanges(client: pg.ClientBase, mappings: ValueMapping[]): Promise<{ valueChecks: number }> {
  const changing: string[] = [];
  for (const m of mappings) {
    const n = await valuesThatChange(client, m);
    if (n > 0) changing.push(`${m.to} ${m.type}: ${n} value(s) of ${m.expr} would be rounded, cut or overflow`);
  }
  if (changing.length) throw new RefusedError(`values would change in the target's column types; nothing was changed: ${changing.join('; ')}`, { hint: 'widen the target column type in the plan' });
  return { valueChecks: mappings.length };
}

/** A column's declared type from the catalog (for targets that already exist). */
export async function columnType(client: pg.ClientBase, table: string, column: string): Promise<string> {
  const { rows } = await client.query<{ t: string }>('SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped', [table, column]);
  return rows[0]?.t ?? 'unknown';
}
