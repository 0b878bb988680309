import { $, type ProcessPromise } from '../../engine/shell';
import { pgBin } from './binaries';

/**
 * Progress of pg_dump and pg_restore, counted in table-of-contents entries
 * from their --verbose log (the tools report nothing else while they work).
 * Kept apart from the dump/restore logic: it only listens.
 */

/** One line per TOC entry pg_restore works on, serial or parallel (PostgreSQL 15 wording). */
export const RESTORE_ENTRY_DONE = /^pg_restore: (creating |processing data for table |executing |restoring large object|setting owner and privileges for )/;
/** One line per table whose rows pg_dump writes. */
export const DUMP_TABLE_DONE = /^pg_dump: dumping contents of table /;

/** Entries in a dump's table of contents (`pg_restore --list`, comment lines left out), of one section or all. */
export async function tocEntryCount(dumpDir: string, section?: 'pre-data' | 'data' | 'post-data'): Promise<number> {
  const list = await $`${pgBin('pg_restore')} --list ${section ? [`--section=${section}`] : []} ${dumpDir}`;
  return list.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(';')).length;
}

/** Call `onLine(line)` for each stderr line of a running tool. */
export function onLogLine(child: ProcessPromise, onLine: (line: string) => void): void {
  const stderr = child.stderr;
  if (!stderr) return;
  let pending = '';
  stderr.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

/** Call `onLine(count)` for each stderr line of a running tool that matches `pattern`. */
export function countLogLines(child: ProcessPromise, pattern: RegExp, onLine: (count: number) => void): void {
  let count = 0;
  onLogLine(child, (line) => {
    if (pattern.test(line)) onLine(++count);
  });
}

/** argv with --verbose added right after the program (so progress can be read from the log). */
export const withVerbose = (argv: string[]): string[] => (argv.includes('--verbose') ? argv : [argv[0]!, '--verbose', ...argv.slice(1)]);

/**
 * Entries done out of entries expected, over one or more tool runs of a
 * step: each run adds its own count to a running total.
 */
export class TocProgress {
  private total = 0;
  private done = 0;
  constructor(private readonly report: (done: number, total: number) => void) {}

  expect(entries: number): void {
    this.total += entries;
    this.report(this.done, this.total);
  }

  watch(child: ProcessPromise, pattern: RegExp): ProcessPromise {
    const base = this.done;
    countLogLines(child, pattern, (n) => {
      // A log line the list did not count (wording differs by entry type) never pushes past the total.
      this.done = Math.min(base + n, this.total);
      this.report(this.done, this.total);
    });
    return child;
  }

  /** Entries finished outside a watched tool (a table loaded in pieces). */
  add(entries: number): void {
    this.done = Math.min(this.done + entries, this.total);
    this.report(this.done, this.total);
  }

  /** The tools exited 0: every expected entry is done. */
  finish(): void {
    this.done = this.total;
    this.report(this.done, this.total);
  }
}
