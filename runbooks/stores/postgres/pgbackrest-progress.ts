/**
 * pgBackRest's restore progress, read from its detail console log: each
 * restored file is logged as "restore file <path> (<size>, <pct>%)", the
 * percentage being of all bytes to restore so far.
 */
const RESTORE_FILE = /\brestore (?:file|zeroed file) .*\([^,()]+, (\d+(?:\.\d+)?)%\)/;

export function restoreFilePercent(line: string, report: (percent: number) => void): void {
  const match = RESTORE_FILE.exec(line);
  if (match) report(Math.min(100, Number(match[1])));
}
