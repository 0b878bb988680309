import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Masker } from './mask';

export type EventKind = 'start' | 'progress' | 'end' | 'warn' | 'error' | 'plan' | 'info' | 'target' | 'summary';

/** One NDJSON line of the runbook contract. */
export interface RunEvent {
  ts: string;
  run: string;
  runbook: string;
  step?: string;
  event: EventKind;
  [field: string]: unknown;
}

export interface EventSink {
  write(event: RunEvent): void;
  close(): void;
}

/** NDJSON on stdout, one event per line, masked after serialisation. */
export class JsonSink implements EventSink {
  constructor(private readonly masker: Masker, private readonly out: Writable = process.stdout) {}
  write(event: RunEvent): void {
    this.out.write(this.masker.maskJson(event) + '\n');
  }
  close(): void {}
}

/**
 * `--json` for listings (backup list, backup info): ONE JSON document on
 * stdout, like `pgbackrest info --output=json`. It is the run's summary
 * line (so the NDJSON contract's "last line is the summary" still holds),
 * with the announced targets and the warnings folded in.
 */
export class DocumentSink implements EventSink {
  private readonly targets: Record<string, unknown>[] = [];
  private readonly warnings: string[] = [];
  constructor(private readonly masker: Masker, private readonly out: Writable = process.stdout) {}
  write(event: RunEvent): void {
    if (event.event === 'target') this.targets.push({ setting: event.setting, where: event.where, origin: event.origin });
    else if (event.event === 'warn') this.warnings.push(String(event.message));
    else if (event.event === 'summary') this.out.write(this.masker.maskJson({ ...event, targets: this.targets, warnings: this.warnings }) + '\n');
  }
  close(): void {}
}

/** Append-only JSONL audit log, one file per run, fsynced on close. */
export class AuditSink implements EventSink {
  private readonly fd: number;
  readonly file: string;
  constructor(private readonly masker: Masker, dir: string, runbook: string, runId: string) {
    // Parents keep default modes (the state root must stay traversable for
    // the service user); the audit folders themselves are private.
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.mkdirSync(path.join(dir, runbook), { recursive: true, mode: 0o700 });
    this.file = path.join(dir, runbook, `${runId}.jsonl`);
    this.fd = fs.openSync(this.file, 'a', 0o600);
  }
  private closed = false;
  write(event: RunEvent): void {
    if (!this.closed) fs.writeSync(this.fd, this.masker.maskJson(event) + '\n');
  }
  /** Free-form lines (zx command log) go through the same masking; nothing is written once closed. */
  writeRaw(record: Record<string, unknown>): void {
    if (!this.closed) fs.writeSync(this.fd, this.masker.maskJson(record) + '\n');
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}
