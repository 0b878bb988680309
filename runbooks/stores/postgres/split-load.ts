import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { logCommand } from '../../engine/command-log';
import { killPoint } from '../../engine/kill-point';
import type { Run } from '../../engine/run';
import { cancelActiveQuery } from '../../engine/pool';
import { pgBin } from './binaries';
import { connect } from './connect';
import { tableDataEntry } from './toc-line';

/**
 * A big table's rows loaded on several sessions at once, as pgcopydb does
 * with one table: pg_restore decompresses the entry and prints its COPY,
 * this process cuts the rows into pieces at line ends (Buffer scans, no
 * per-row work) and each free session COPYs the next piece. pg_restore -j
 * loads one table in one stream; with one large table, cores stay idle.
 * Every piece commits on its own: the restore goes into a database made for
 * it and is verified against the manifest afterwards, row by row.
 */

/** Data files at least this big (compressed, on disk) are split. */
export const SPLIT_MIN_BYTES = Number(process.env.TICKVAULT_SPLIT_LOAD_MIN_BYTES ?? 16 * 1024 * 1024);
/** Rows per piece, in bytes of COPY text. */
export const PIECE_BYTES = Number(process.env.TICKVAULT_SPLIT_LOAD_PIECE_BYTES ?? 8 * 1024 * 1024);

export interface DataEntry {
  dumpId: number;
  /** The `pg_restore --list` line. */
  line: string;
  bytes: number;
}

/** TABLE DATA entries of a directory dump whose data file is at least `minBytes`. */
export function bigTableData(dumpDir: string, listing: string, minBytes = SPLIT_MIN_BYTES): DataEntry[] {
  const files = fs.readdirSync(dumpDir);
  const out: DataEntry[] = [];
  for (const line of listing.split('\n')) {
    const entry = tableDataEntry(line);
    if (!entry) continue;
    const file = files.find((f) => f === `${entry.dumpId}.dat` || f.startsWith(`${entry.dumpId}.dat.`));
    const bytes = file ? fs.statSync(path.join(dumpDir, file)).size : 0;
    if (file && bytes >= minBytes) out.push({ dumpId: entry.dumpId, line, bytes });
  }
  return out;
}

/** The listing with these entry lines commented out, for the pg_restore that loads everything else. */
export const listingWithout = (listing: string, lines: string[]): string =>
  listing
    .split('\n')
    .map((line) => (lines.includes(line) ? `;${line}` : line))
    .join('\n');

const END_OF_DATA = Buffer.from('\\.\n');
const NL_END_OF_DATA = Buffer.from('\n\\.\n');

/** What precedes the rows in pg_restore's script: session settings and the COPY statement. */
export interface CopyHeader {
  settings: string[];
  copy: string;
}

/** Raised before any row is loaded: this entry is left to plain pg_restore. */
export class NotSplittable extends Error {}

const COPY_END = ' FROM stdin;\n';
/** Bytes of script read before deciding pg_restore printed no COPY statement. */
const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * The header and where the rows start, once `head` holds the whole COPY
 * statement; undefined until then. The statement runs from the first line
 * starting `COPY ` to the first ` FROM stdin;` line end outside a quoted
 * identifier (names may hold newlines or that very text).
 */
export function parseHeader(head: Buffer): { header: CopyHeader; rowsAt: number } | undefined {
  // latin1: one character per byte, so offsets are byte offsets in any encoding.
  const text = head.toString('latin1');
  const start = /^COPY /m.exec(text)?.index;
  if (start === undefined) return undefined;
  for (let end = text.indexOf(COPY_END, start); end >= 0; end = text.indexOf(COPY_END, end + 1)) {
    const rowsAt = end + COPY_END.length;
    if ((text.slice(start, rowsAt).match(/"/g)?.length ?? 0) % 2) continue; // inside a quoted name
    const encoding = /^SET client_encoding = '([^']*)';$/m.exec(text.slice(0, start))?.[1] ?? 'UTF8';
    const utf8 = encoding.toUpperCase().replace(/[-_]/g, '') === 'UTF8';
    const decode = (from: number, to: number) => head.subarray(from, to).toString(utf8 ? 'utf8' : 'latin1');
    const header = { settings: sqlLines(decode(0, start)), copy: decode(start, rowsAt).trim().replace(/;$/, '') };
    // pg sends statements as UTF-8: a non-ASCII name in another encoding cannot be sent as the dump has it.
    if (!utf8 && [...header.settings, header.copy].some((statement) => /[^\x00-\x7f]/.test(statement))) {
      throw new NotSplittable(`its COPY names things in ${encoding} with non-ASCII characters`);
    }
    return { header, rowsAt };
  }
  return undefined;
}

/**
 * pg_restore's script of one TABLE DATA entry, split: the header (SETs and
 * the COPY … FROM stdin line), then the rows in pieces of about
 * `pieceBytes`, each ending at a line end, up to the `\.` line (in COPY
 * text a data line can never be exactly `\.`: a backslash is escaped).
 * Reads only as fast as the pieces are taken.
 */
export async function* scriptPieces(script: AsyncIterable<Buffer>, pieceBytes: number, onHeader: (header: CopyHeader) => void): AsyncGenerator<Buffer> {
  let head = Buffer.alloc(0);
  let header: CopyHeader | undefined;
  let parts: Buffer[] = [];
  let size = 0;
  let ended = false;
  /** Rows up to the end-of-data line if `buf` (starting at a line start) holds it; else undefined. */
  const rowsBeforeEnd = (buf: Buffer): Buffer | undefined => {
    if (buf.subarray(0, END_OF_DATA.length).equals(END_OF_DATA)) return buf.subarray(0, 0);
    const at = buf.indexOf(NL_END_OF_DATA);
    return at >= 0 ? buf.subarray(0, at + 1) : undefined;
  };
  for await (const chunk of script) {
    if (ended) continue; // what follows the rows (blank lines, \unrestrict): drained so pg_restore can exit
    if (!header) {
      head = Buffer.concat([head, chunk]);
      const parsed = parseHeader(head);
      if (!parsed) {
        if (head.length > MAX_HEADER_BYTES) throw new NotSplittable("pg_restore printed no COPY statement for this table's data");
        continue;
      }
      header = parsed.header;
      onHeader(header);
      const rest = head.subarray(parsed.rowsAt);
      if (!rest.length) continue;
      parts = [rest];
      size = rest.length;
    } else {
      parts.push(chunk);
      size += chunk.length;
      // No line end in this chunk: no new place to cut, no end-of-data line. Without this a
      // row longer than a piece is joined and scanned again for every chunk (quadratic).
      if (!chunk.includes(0x0a)) continue;
    }
    if (size < pieceBytes) continue;
    const buf = Buffer.concat(parts);
    const rows = rowsBeforeEnd(buf);
    ended = rows !== undefined;
    const rest = yield* cutAtLines(rows ?? buf, pieceBytes, ended);
    parts = [rest];
    size = rest.length;
  }
  if (!header) throw new NotSplittable("pg_restore printed no COPY statement for this table's data");
  if (ended) return;
  const rows = rowsBeforeEnd(Buffer.concat(parts));
  if (!rows) throw new Error("the table's data ended without its end-of-data line (\\.): the dump is cut short");
  yield* cutAtLines(rows, pieceBytes, true);
}

/** Pieces of about `pieceBytes` ending at line ends (a longer line is a piece of its own); returns the unfinished rest. */
function* cutAtLines(buf: Buffer, pieceBytes: number, final: boolean): Generator<Buffer, Buffer> {
  let rest = buf;
  while (rest.length >= pieceBytes) {
    let nl = rest.lastIndexOf(0x0a, pieceBytes - 1);
    if (nl < 0) nl = rest.indexOf(0x0a, pieceBytes);
    if (nl < 0) break;
    yield rest.subarray(0, nl + 1);
    rest = rest.subarray(nl + 1);
  }
  if (final && rest.length) {
    yield rest;
    return rest.subarray(rest.length);
  }
  return rest;
}

/** SQL statements of the script's header; comments, blank lines and \restrict lines left out. */
function sqlLines(text: string): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('--') && !/^\\(un)?restrict /.test(l));
  const meta = lines.find((l) => l.startsWith('\\'));
  if (meta) throw new NotSplittable(`pg_restore printed a psql meta-command the loader cannot run: ${meta.slice(0, 80)}`);
  return lines;
}

/**
 * Load one big table's data on `sessions` sessions; resolves to the rows
 * loaded, or to `notSplittable` (the reason) with nothing loaded when the
 * script cannot be cut safely: the caller then restores the entry whole.
 */
export async function splitLoad(
  run: Run,
  opts: { dumpDir: string; entry: DataEntry; url: string; sessions: number; listFile: string; pieceBytes?: number },
): Promise<{ rows: number; pieces: number; notSplittable?: string }> {
  fs.writeFileSync(opts.listFile, `${opts.entry.line}\n`);
  const argv = ['--data-only', `--use-list=${opts.listFile}`, '--file=-', opts.dumpDir];
  logCommand({ event: 'cmd', cmd: [pgBin('pg_restore'), ...argv].join(' '), id: `split-${opts.entry.dumpId}` });
  const child = spawn(pgBin('pg_restore'), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Listening from the start: when a child exits, Node drains (discards) output nobody listens to yet.
  child.stdout.on('readable', () => undefined);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  run.onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGTERM');
  });

  let header: CopyHeader | undefined;
  const pieces = scriptPieces(child.stdout as Readable, opts.pieceBytes ?? PIECE_BYTES, (h) => (header = h));
  const clients: pg.Client[] = [];
  let rows = 0;
  let count = 0;
  let failed: unknown;
  const session = async () => {
    const client = await connect(opts.url, 'restored database', 'tickvault-restore');
    clients.push(client);
    await client.query('SET synchronous_commit = off');
    let applied = false;
    // Concurrent next() calls on one generator are served in turn: each piece goes to one session.
    for (let next = await pieces.next(); !next.done && !failed; next = await pieces.next()) {
      if (!applied) {
        for (const statement of header!.settings) await client.query(statement);
        applied = true;
      }
      const into = client.query(copyFrom(header!.copy));
      await new Promise<void>((resolve, reject) => {
        into.on('finish', resolve);
        into.on('error', reject);
        into.end(next.value);
      });
      rows += Number(into.rowCount ?? 0);
      if (++count === 1) killPoint('restore-split-piece');
    }
  };
  // On the first failure: cancel the other COPYs, stop pg_restore, and drop its unread output;
  // a paused stream would never close, and the wait for the child with it.
  const stop = (error: unknown) => {
    failed ??= error;
    for (const c of clients) cancelActiveQuery(c);
    child.kill('SIGTERM');
    child.stdout.destroy();
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.sessions) }, () => session().catch(stop)));
    const code = await exited;
    if (failed instanceof NotSplittable) return { rows: 0, pieces: 0, notSplittable: failed.message };
    // The server's error names the bad row; otherwise pg_restore's own (exit 1, with its
    // message) explains a missing or cut-short script best.
    const fromServer = typeof (failed as { code?: unknown } | undefined)?.code === 'string';
    if (!fromServer && code !== 0 && (code !== null || !failed)) throw new Error(`pg_restore (data of entry ${opts.entry.dumpId}) failed (exit ${code ?? child.signalCode}): ${stderr.trim() || 'no output'}`);
    if (failed) throw failed;
    logCommand({ event: 'cmd-end', id: `split-${opts.entry.dumpId}`, exitCode: code, rows, pieces: count });
    return { rows, pieces: count };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
