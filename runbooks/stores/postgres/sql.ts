import { UsageError } from '../../engine/errors';

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export interface TableName {
  schema: string;
  name: string;
}

/** Parse "schema.name" (or "name", schema public) into its parts. */
export function parseTableName(text: string): TableName {
  const match = /^(?:([A-Za-z_][\w$]*)\.)?([A-Za-z_][\w$]*)$/.exec(text.trim());
  if (!match) throw new UsageError(`not a table name: "${text}" (expected schema.name)`);
  return { schema: match[1] ?? 'public', name: match[2]! };
}

export const qualify = (table: TableName): string => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
export const tableLabel = (table: TableName): string => `${table.schema}.${table.name}`;

/**
 * Session settings that make a row's text form independent of the client:
 * timestamps in UTC ISO, fixed float digits, hex bytea.
 */
export const NORMALISE_SESSION = [
  "SET TIME ZONE 'UTC'",
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
].join('; ');
