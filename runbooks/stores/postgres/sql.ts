import { UsageError } from '../../engine/errors';

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export interface TableName {
  schema: string;
  name: string;
}

/**
 * Parse a table name the way pg_dump -t and psql read one: "schema.name" or
 * "name" (schema public); unquoted parts fold to lower case, double-quoted
 * parts keep case, spaces, dots and doubled quotes ('"Odd Schema"."Order Items"').
 */
export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let i = 0;
  const input = text.trim();
  const fail = (why: string) => new UsageError(`not a table name: ${JSON.stringify(text)} (${why}; expected schema.name, quoting parts with "…" when needed)`);
  while (i < input.length) {
    if (input[i] === '"') {
      let part = '';
      for (i++; ; i++) {
        if (i >= input.length) throw fail('unterminated quote');
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            part += '"';
            i++;
          } else break;
        } else part += input[i];
      }
      i++;
      if (part === '') throw fail('empty quoted identifier');
      parts.push(part);
    } else {
      const match = /^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/.exec(input.slice(i));
      if (!match) throw fail(`unexpected ${JSON.stringify(input[i])}`);
      parts.push(match[0].toLowerCase());
      i += match[0].length;
    }
    if (i < input.length) {
      if (input[i] !== '.') throw fail(`unexpected ${JSON.stringify(input[i])}`);
      i++;
      if (i >= input.length) throw fail('ends with a dot');
    }
  }
  if (parts.length === 1) return { schema: 'public', name: parts[0]! };
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! };
  throw fail(parts.length === 0 ? 'empty' : 'too many parts');
}

export const qualify = (table: TableName): string => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
export const tableLabel = (table: TableName): string => `${table.schema}.${table.name}`;

/**
 * Session settings that make a row's text form independent of the client:
 * timestamps in UTC ISO, shortest exact float digits, hex bytea, and no
 * row-level security filtering.
 */
export const NORMALISE_SESSION = [
  "SET TIME ZONE 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
  // Fail loudly instead of hashing only the rows a row-level security policy lets through.
  'SET row_security = off',
  // Type names (format_type) must not depend on a database's own search_path setting.
  'SET search_path = pg_catalog, public',
].join('; ');
