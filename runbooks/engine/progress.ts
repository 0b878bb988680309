/** A progress bar on stderr, drawn only when stderr is a terminal. */
export class ProgressBar {
  private last = 0;
  private readonly enabled: boolean;
  constructor(private readonly label: string, private readonly out: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(out.isTTY);
  }

  update(done: number, total: number, unit = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const width = 28;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const pct = `${Math.round(ratio * 100)}%`.padStart(4);
    this.out.write(`\r  ${bar} ${pct} ${this.label} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}\x1b[K`);
  }

  done(): void {
    if (this.enabled && this.last > 0) this.out.write('\r\x1b[K');
  }
}
