/**
 * A dotenv file as lines, so edits keep comments, order, quoting and blank
 * lines: restoring a snapshot can give back the file byte for byte.
 */
export interface DotenvLine {
  raw: string;
  key?: string;
  value?: string;
}

const ASSIGNMENT = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)(.*)$/;

function unquote(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('"')) {
    const end = trimmed.lastIndexOf('"');
    return trimmed.slice(1, end > 0 ? end : undefined).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  if (trimmed.startsWith("'")) {
    const end = trimmed.lastIndexOf("'");
    return trimmed.slice(1, end > 0 ? end : undefined);
  }
  return trimmed.replace(/\s+#.*$/, '');
}

/** An inline " # comment" after an unquoted value, kept when the value changes. */
function trailingComment(valuePart: string): string {
  if (/^\s*["']/.test(valuePart)) return '';
  return /(\s+#.*)$/.exec(valuePart)?.[1] ?? '';
}

/** Quote a value only when it needs it. */
export function formatValue(value: string): string {
  if (value === '' || /^[A-Za-z0-9_./:@%+,=-]+$/.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function parseDotenv(text: string): DotenvLine[] {
  const lines = text.split('\n');
  return lines.map((raw) => {
    const m = ASSIGNMENT.exec(raw);
    return m ? { raw, key: m[2]!, value: unquote(m[4]!) } : { raw };
  });
}

export function dotenvEntries(lines: DotenvLine[]): [string, string][] {
  const seen = new Map<string, string>();
  for (const line of lines) if (line.key !== undefined) seen.set(line.key, line.value!);
  return [...seen.entries()];
}

/**
 * Apply desired values to an existing file: change values in place, append
 * new keys, drop lines of keys not wanted. Untouched lines stay as they were.
 */
export function applyToDotenv(lines: DotenvLine[], desired: Map<string, string>): string {
  const out: string[] = [];
  const written = new Set<string>();
  for (const line of lines) {
    if (line.key === undefined) {
      out.push(line.raw);
      continue;
    }
    if (!desired.has(line.key) || written.has(line.key)) continue;
    written.add(line.key);
    const value = desired.get(line.key)!;
    if (value === line.value) out.push(line.raw);
    else {
      const m = ASSIGNMENT.exec(line.raw)!;
      out.push(`${m[1]}${line.key}${m[3]}${formatValue(value)}${trailingComment(m[4]!)}`);
    }
  }
  const trailingNewline = out.length > 0 && out[out.length - 1] === '';
  if (trailingNewline) out.pop();
  for (const [key, value] of desired) if (!written.has(key)) out.push(`${key}=${formatValue(value)}`);
  return out.join('\n') + (trailingNewline || out.length ? '\n' : '');
}
