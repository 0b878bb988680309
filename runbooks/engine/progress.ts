import { formatCount, formatMs } from './format';

/** Elapsed time and a linear estimate of what is left, carried by every progress event. */
export interface ProgressEstimate {
  elapsedMs: number;
  /** null until something is done (no rate to extrapolate from). */
  etaMs: number | null;
}

export function progressEstimate(done: number, total: number, elapsedMs: number): ProgressEstimate {
  const elapsed = Math.round(elapsedMs);
  if (done <= 0 || total <= 0) return { elapsedMs: elapsed, etaMs: null };
  return { elapsedMs: elapsed, etaMs: Math.max(0, Math.round((elapsed * (total - done)) / done)) };
}

/** "12 of 40 entries · 3.1 s · ~7.2 s left": the same words on a TTY bar and in plain log lines. */
export function progressText(done: number, total: number, unit: string, estimate: ProgressEstimate): string {
  const left = estimate.etaMs === null ? '' : done >= total ? '' : ` · ~${formatMs(estimate.etaMs)} left`;
  return `${formatCount(done)} of ${formatCount(total)}${unit ? ` ${unit}` : ''} · ${formatMs(estimate.elapsedMs)}${left}`;
}

/** How often a plain (non-TTY) stream gets a progress line: often enough for a log, rarely enough to read. */
const PLAIN_EVERY_MS = 15_000;

/**
 * Progress on stderr: a redrawn bar on a terminal; without one, no bar, only
 * a plain line every 15 s for long steps (a log file still shows the work moves).
 */
export class ProgressBar {
  private last = 0;
  private readonly tty: boolean;
  private readonly started = Date.now();
  constructor(private readonly label: string, private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  update(done: number, total: number, unit = '', estimate: ProgressEstimate = progressEstimate(done, total, Date.now() - this.started)): void {
    const now = Date.now();
    if (!this.tty) {
      if (now - (this.last || this.started) < PLAIN_EVERY_MS || done >= total) return;
      this.last = now;
      this.out.write(`  … ${this.label}: ${progressText(done, total, unit, estimate)}\n`);
      return;
    }
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const width = 24;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const pct = `${Math.round(ratio * 100)}%`.padStart(4);
    this.out.write(`\r  ${bar} ${pct} ${progressText(done, total, unit, estimate)}\x1b[K`);
  }

  done(): void {
    if (this.tty && this.last > 0) this.out.write('\r\x1b[K');
  }
}
