/**
 * The one dotenv parser (env vault, local stack settings). A file is kept
 * as lines, so edits keep comments, order, quoting, `export ` prefixes and
 * CRLF line ends: restoring a snapshot can give back the file byte for byte.
 *
 * Grammar, chosen so that formatValue() output always parses back to the
 * same value:
 * - `[export ]KEY=value`, spaces around `=` allowed; KEY is letters, digits, `_ . -`.
 * - `'single'`: literal up to the next `'`.
 * - `"double"`: `\\` `\"` `\n` `\r` `\t` are escapes; any other backslash stays as written.
 * - unquoted: literal (backslashes included) up to a `#` that starts the value or follows
 *   whitespace (a comment); `a#b` keeps its `#`. Trailing whitespace is dropped.
 * - after a closing quote only whitespace and a `# comment` may follow.
 * - a duplicate key: the LAST assignment wins (as when a shell sources the file).
 * - a line that is none of blank, `# comment` or an assignment is a problem the caller reports.
 */
export interface DotenvLine {
  /** The line as in the file, without its "\n" (a CRLF file keeps its "\r"). */
  raw: string;
  key?: string;
  value?: string;
  /** Why this line is not understood (1-based line number in messages). */
  problem?: string;
}

const ASSIGNMENT = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)(\s*=[ \t]*)(.*)$/;
const AFTER_VALUE = /^\s*(#.*)?$/;

function parseValue(text: string): { value: string } | { problem: string } {
  const quote = text[0];
  if (quote === "'") {
    const end = text.indexOf("'", 1);
    if (end < 0) return { problem: 'unterminated single quote (values cannot span lines)' };
    if (!AFTER_VALUE.test(text.slice(end + 1))) return { problem: 'text after the closing quote' };
    return { value: text.slice(1, end) };
  }
  if (quote === '"') {
    let value = '';
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"') {
        if (!AFTER_VALUE.test(text.slice(i + 1))) return { problem: 'text after the closing quote' };
        return { value };
      }
      if (c === '\\' && i + 1 < text.length) {
        const next = text[i + 1]!;
        const escaped = ({ '\\': '\\', '"': '"', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[next];
        if (escaped !== undefined) {
          value += escaped;
          i++;
          continue;
        }
      }
      value += c;
    }
    return { problem: 'unterminated double quote (values cannot span lines)' };
  }
  const comment = /(^|\s)#/.exec(text);
  return { value: (comment ? text.slice(0, comment.index) : text).replace(/\s+$/, '') };
}

export function parseDotenv(text: string): DotenvLine[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  return body.split('\n').map((raw) => {
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const m = ASSIGNMENT.exec(content);
    if (!m) return /^\s*(#.*)?$/.test(content) ? { raw } : { raw, problem: 'not KEY=value, a comment or blank' };
    const parsed = parseValue(m[4]!);
    return 'value' in parsed ? { raw, key: m[2]!, value: parsed.value } : { raw, key: m[2]!, problem: parsed.problem };
  });
}

/** Lines that could not be understood, as "line N: why". */
export function dotenvProblems(lines: DotenvLine[]): string[] {
  return lines.flatMap((l, i) => (l.problem ? [`line ${i + 1}${l.key ? ` (${l.key})` : ''}: ${l.problem}`] : []));
}

/** Keys assigned more than once (the last assignment wins). */
export function duplicateKeys(lines: DotenvLine[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const l of lines) if (l.key !== undefined && l.value !== undefined) (seen.has(l.key) ? dup : seen).add(l.key);
  return [...dup];
}

/** The effective key/values, in first-appearance order; the last assignment of a key wins. */
export function dotenvEntries(lines: DotenvLine[]): [string, string][] {
  const seen = new Map<string, string>();
  for (const line of lines) if (line.key !== undefined && line.value !== undefined) seen.set(line.key, line.value);
  return [...seen.entries()];
}

/** Quote a value only when it needs it; the result always parses back to `value`. */
export function formatValue(value: string): string {
  if (value === '' || /^[A-Za-z0-9_./:@%+,=-][A-Za-z0-9_./:@%+,=#-]*$/.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

/** An inline " # comment" after an unquoted value, kept when the value changes. */
function trailingComment(valuePart: string): string {
  if (/^["']/.test(valuePart)) return '';
  return /(\s+#.*)$/.exec(valuePart)?.[1] ?? '';
}

/**
 * Apply desired values to an existing file: change values in place (the
 * last assignment of a duplicated key, the one that wins), append new keys,
 * drop lines of keys not wanted. Untouched lines stay as they were.
 */
export function applyToDotenv(lines: DotenvLine[], desired: Map<string, string>): string {
  const crlf = lines.some((l) => l.raw.endsWith('\r'));
  const eol = crlf ? '\r' : '';
  const lastIndex = new Map<string, number>();
  lines.forEach((l, i) => l.key !== undefined && l.value !== undefined && lastIndex.set(l.key, i));
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (line.key === undefined || line.value === undefined) {
      out.push(line.raw);
      return;
    }
    if (!desired.has(line.key) || lastIndex.get(line.key) !== i) {
      // An earlier, overridden duplicate stays only if its key stays and its value is still right.
      if (desired.has(line.key) && line.value === desired.get(line.key)) out.push(line.raw);
      return;
    }
    const value = desired.get(line.key)!;
    if (value === line.value) out.push(line.raw);
    else {
      const content = line.raw.endsWith('\r') ? line.raw.slice(0, -1) : line.raw;
      const m = ASSIGNMENT.exec(content)!;
      out.push(`${m[1]}${line.key}${m[3]}${formatValue(value)}${trailingComment(m[4]!)}${line.raw.endsWith('\r') ? '\r' : ''}`);
    }
  });
  const trailingNewline = out.length > 0 && out[out.length - 1] === '';
  if (trailingNewline) out.pop();
  for (const [key, value] of desired) if (!lastIndex.has(key)) out.push(`${key}=${formatValue(value)}${eol}`);
  return out.join('\n') + (trailingNewline || out.length ? '\n' : '');
}
