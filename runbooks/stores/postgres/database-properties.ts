import { $ } from '../../engine/shell';
import { runTool } from '../../engine/tool';
import { pgBin } from './binaries';
import { quoteIdent } from './sql';

/**
 * Database-level properties (owner, ACL, ALTER DATABASE … SET, ALTER ROLE …
 * IN DATABASE … SET, comment) are in every pg_dump archive, but pg_restore
 * emits them only with --create, under the source's name. tickvault creates
 * the target itself, so it takes those statements from `pg_restore --create
 * --schema-only` and points them at the target: pg_dump did the quoting of
 * settings such as search_path, which is easy to get wrong by hand.
 */
export interface PropertyBlock {
  /** The archive entry, e.g. "DATABASE PROPERTIES corpus1". */
  entry: string;
  sql: string;
}

const HEADER = /^-- Name: (.*); Type: (.*); Schema: -; Owner: .*$/;
const ENTRY_END = /^(-- Name: |-- TOC entry |-- Data for Name: |\\)/;
const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The statements of an archive's database-level entries, pointed at `target`. */
export function databasePropertyBlocks(script: string, target: string): PropertyBlock[] {
  const lines = script.split('\n');
  const blocks: PropertyBlock[] = [];
  // The source's name, as the DATABASE entry's header gives it.
  const source = lines.map((l) => HEADER.exec(l)).find((m) => m?.[2] === 'DATABASE')?.[1];
  if (source === undefined) return [];
  // pg_dump writes the name bare when it is a plain lower-case identifier, else double-quoted.
  const name = new RegExp(`((?:ON|ALTER|IN) DATABASE )(?:${escapeRegex(quoteIdent(source))}|${escapeRegex(source)})(?=[ ;\\n])`, 'g');
  for (let i = 0; i < lines.length; i++) {
    const header = HEADER.exec(lines[i]!);
    if (!header) continue;
    const [, entryName, type] = header as unknown as [string, string, string];
    const wanted = type === 'DATABASE PROPERTIES' || type === 'DATABASE' || ((type === 'COMMENT' || type === 'ACL' || type === 'SECURITY LABEL') && entryName.startsWith('DATABASE '));
    if (!wanted) continue;
    const body: string[] = [];
    // An entry ends at the next entry's header or at a psql meta-command (\connect, \restrict).
    for (i = i + 1; i < lines.length && !ENTRY_END.test(lines[i]!); i++) body.push(lines[i]!);
    i--;
    let sql = body.filter((l) => !/^--/.test(l)).join('\n');
    // The DATABASE entry itself is CREATE DATABASE (tickvault made the target) plus its owner.
    if (type === 'DATABASE') sql = sql.split('\n').filter((l) => /^ALTER DATABASE .* OWNER TO /.test(l)).join('\n');
    sql = sql.replace(name, `$1${quoteIdent(target)}`).trim();
    if (sql) blocks.push({ entry: `${type} ${entryName}`, sql });
  }
  return blocks;
}

/** Read the database-level statements out of a dump directory. */
export async function readDatabaseProperties(dumpDir: string, target: string): Promise<PropertyBlock[]> {
  const out = await $`${pgBin('pg_restore')} --create --schema-only --file=- ${dumpDir}`.quiet();
  return databasePropertyBlocks(out.stdout, target);
}

/** How the source database was made: its encoding and locale, as CREATE DATABASE options. */
export interface DatabaseCreation {
  /** Undefined when the statement could not be read (then it is in notCarried). */
  encoding?: string;
  /** e.g. ENCODING = 'LATIN1', LOCALE_PROVIDER = libc, LOCALE = 'C' */
  options: string[];
  /** Options of the source's CREATE DATABASE that are not carried (a tablespace, an odd value). */
  notCarried: string[];
}

// Encoding and locale only: a tablespace or OID belongs to the source server.
const CREATION_OPTIONS = new Set(['ENCODING', 'LOCALE_PROVIDER', 'LOCALE', 'LC_COLLATE', 'LC_CTYPE', 'ICU_LOCALE', 'ICU_RULES', 'BUILTIN_LOCALE']);
// Anchored, unambiguous tokens (linear on any input): the name, then `KEY = value` up to the `;`.
const NAME = /(?:"(?:[^"]|"")*"|[^\s";]+) WITH TEMPLATE = template0/y;
const OPTION = / ([A-Z_]+) = ('(?:[^']|'')*'|E'(?:[^'\\]|\\.|'')*'|"(?:[^"]|"")*"|\w+)/y;

/** The archive's CREATE DATABASE … WITH TEMPLATE = template0 …, its options rebuilt from known keys and plain values. */
export function databaseCreation(script: string): DatabaseCreation | undefined {
  const statement = /^CREATE DATABASE /m.exec(script);
  if (!statement) return undefined;
  NAME.lastIndex = statement.index + statement[0].length;
  const unread = { options: [], notCarried: [`CREATE DATABASE not read: ${script.slice(statement.index, statement.index + 80).split('\n')[0]}`] };
  if (!NAME.exec(script)) return unread;
  const options: string[] = [];
  const notCarried: string[] = [];
  let encoding: string | undefined;
  let at = NAME.lastIndex;
  for (OPTION.lastIndex = at; ; OPTION.lastIndex = at) {
    const m = OPTION.exec(script);
    if (!m) break;
    at = OPTION.lastIndex;
    const [, key, value] = m as unknown as [string, string, string];
    const quoted = value.startsWith("'");
    const plain = quoted ? value.slice(1, -1).replace(/''/g, "'") : value;
    // Carried: known keys with values that are plain text (no quote, backslash or control character).
    if (!CREATION_OPTIONS.has(key) || !(quoted || /^\w+$/.test(value)) || /[\x00-\x1f'\\]/.test(plain)) {
      notCarried.push(`${key} = ${value}`);
      continue;
    }
    if (key === 'ENCODING') encoding = plain;
    options.push(`${key} = ${quoted ? `'${plain}'` : plain}`);
  }
  if (script[at] !== ';') notCarried.push(`CREATE DATABASE options not read: ${script.slice(at, at + 60).split('\n')[0]}`);
  return encoding ? { encoding, options, notCarried } : unread;
}

/** The source database's encoding and locale; pg_restore --create with an empty list prints only that entry. */
export async function readDatabaseCreation(dumpDir: string): Promise<DatabaseCreation | undefined> {
  const out = await runTool(pgBin('pg_restore'), ['--create', '--schema-only', '--use-list=/dev/null', '--file=-', dumpDir], { encoding: 'latin1' });
  return databaseCreation(out.stdout);
}
