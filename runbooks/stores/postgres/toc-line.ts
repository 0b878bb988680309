/**
 * A TABLE DATA line of `pg_restore --list`: "<dump id>; <catalog oid> <oid> TABLE DATA
 * <schema> <name> <owner>", names unquoted (so they may hold spaces); a comment line
 * (";…") never matches.
 */
const TABLE_DATA_LINE = /^(\d+); \d+ \d+ TABLE DATA (.*)$/;

/** The entry's dump id and what follows "TABLE DATA " ("schema name owner"), or undefined for any other line. */
export function tableDataEntry(line: string): { dumpId: number; label: string } | undefined {
  const m = TABLE_DATA_LINE.exec(line);
  return m ? { dumpId: Number(m[1]), label: m[2]! } : undefined;
}
