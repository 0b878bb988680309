import { runTool } from '../../engine/tool';
import { pgBin } from '../../stores/postgres/binaries';

/** One line of `pg_restore --list`: "dumpId; tableoid oid DESC namespace tag owner". */
export interface TocEntry {
  line: string;
  dumpId: number;
  /** Catalog (pg_class, pg_type, …) and object OID; 0 for entries that hang off another (COMMENT, ATTACH). */
  tableoid: number;
  oid: number;
  desc: string;
  /** The rest of the line (namespace, tag, owner), for messages only: names with spaces make it ambiguous. */
  tag: string;
}

// Descriptions of more than one word, longest first, so "TABLE ATTACH" is not read as "TABLE".
const DESCS = ['PUBLICATION TABLES IN SCHEMA', 'MATERIALIZED VIEW DATA', 'SEQUENCE OWNED BY', 'PUBLICATION TABLE', 'MATERIALIZED VIEW', 'CHECK CONSTRAINT', 'FOREIGN TABLE', 'FK CONSTRAINT', 'EVENT TRIGGER', 'INDEX ATTACH', 'ROW SECURITY', 'TABLE ATTACH', 'SEQUENCE SET', 'LARGE OBJECT', 'DEFAULT ACL', 'TABLE DATA', 'SHELL TYPE'];

export function parseToc(listing: string): TocEntry[] {
  const out: TocEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = /^(\d+); (\d+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const rest = m[4]!;
    const desc = DESCS.find((d) => rest.startsWith(`${d} `)) ?? rest.split(' ')[0]!;
    out.push({ line, dumpId: Number(m[1]), tableoid: Number(m[2]), oid: Number(m[3]), desc, tag: rest.slice(desc.length + 1) });
  }
  return out;
}

export async function tocEntries(dumpFile: string): Promise<TocEntry[]> {
  return parseToc((await runTool(pgBin('pg_restore'), ['--list', dumpFile])).stdout);
}
