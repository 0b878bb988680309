import type { Writable } from 'node:stream';
import type { EventSink, RunEvent } from './events';
import type { Masker } from './mask';
import { formatMs } from './format';
import { originText, type SettingOrigin } from './where';

const useColor = (out: Writable): boolean =>
  Boolean((out as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR;

/** Human output on stderr: one line per step, then a closing summary table. */
export class HumanSink implements EventSink {
  private readonly color: boolean;
  constructor(private readonly masker: Masker, private readonly out: Writable = process.stderr) {
    this.color = useColor(out);
  }

  private paint(code: number, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  private line(text: string): void {
    this.out.write(this.masker.mask(text) + '\n');
  }

  write(e: RunEvent): void {
    const step = e.step ?? '';
    switch (e.event) {
      case 'start':
        if (e.step) this.line(`${this.paint(36, '▸')} ${e.of ? this.paint(2, `[${String(e.index)}/${String(e.of)}] `) : ''}${step}${e.detail ? this.paint(2, `  ${String(e.detail)}`) : ''}`);
        else this.line(this.paint(1, `tickvault ${e.runbook}${e.command ? ` ${String(e.command)}` : ''} · run ${e.run}${e.dryRun ? ' · DRY RUN' : ''}`));
        break;
      case 'plan':
        this.line(`${this.paint(33, '○')} ${e.of ? this.paint(2, `[${String(e.index)}/${String(e.of)}] `) : ''}${step}${e.detail ? this.paint(2, `  ${String(e.detail)}`) : ''}  ${this.paint(2, '(dry run: not executed)')}`);
        break;
      case 'end':
        this.line(`${e.status === 'failed' ? this.paint(31, '✗') : this.paint(32, '✓')} ${step.padEnd(44)} ${formatMs(Number(e.ms ?? 0))}${e.note ? this.paint(2, `  ${String(e.note)}`) : ''}`);
        break;
      case 'warn':
        this.line(`${this.paint(33, '!')} ${step ? step + ': ' : ''}${String(e.message ?? '')}`);
        break;
      case 'target':
        this.line(`  ${this.paint(36, '→')} ${String(e.setting).padEnd(16)} ${String(e.where)}  ${this.paint(2, originText(e.origin as SettingOrigin))}`);
        break;
      case 'info':
        this.line(`  ${String(e.message ?? '')}`);
        break;
      case 'error':
        this.line(`${this.paint(31, '✗')} ${step ? step + ': ' : ''}${String(e.message ?? '')} ${this.paint(2, `[${String(e.code)}]`)}`);
        if (e.hint) this.line(`  ${this.paint(2, 'hint:')} ${String(e.hint)}`);
        break;
      case 'summary':
        this.summary(e);
        break;
      default:
        break; // progress is drawn by the progress bar on a TTY
    }
  }

  private summary(e: RunEvent): void {
    const steps = (e.steps as { step: string; ms: number; status: string }[] | undefined) ?? [];
    const verdict = e.ok ? this.paint(32, 'OK') : this.paint(31, `FAILED (exit ${String(e.exitCode)})`);
    this.line('');
    this.line(`${verdict}  ${e.runbook} in ${formatMs(Number(e.durationMs ?? 0))}  · run ${e.run}`);
    for (const s of steps) {
      this.line(`  ${s.step.padEnd(44)} ${s.status.padEnd(8)} ${formatMs(s.ms)}`);
    }
    if (e.audit) this.line(this.paint(2, `  audit log: ${String(e.audit)}`));
  }

  close(): void {}
}
