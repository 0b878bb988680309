import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { AuditSink, DocumentSink, JsonSink, type EventKind, type EventSink, type RunEvent } from './events';
import { HumanSink } from './human';
import { codeOf, exitCodeOf, messageOf, TickvaultError, type ExitCode } from './errors';
import { acquireFileLock } from './lock';
import type { Masker } from './mask';
import { auditDir } from './paths';
import { ProgressBar, progressEstimate, type ProgressEstimate } from './progress';
import { confirmDestructive, type ConfirmRequest } from './prompt';

export interface RunOptions {
  runbook: string;
  command?: string;
  json: boolean;
  dryRun: boolean;
  yes: boolean;
  masker: Masker;
  stdout?: Writable;
  stderr?: Writable;
  /** Write the JSONL audit log (on by default). */
  audit?: boolean;
  /** --json prints one JSON document (the summary) instead of an event stream: listings. */
  document?: boolean;
}

export interface StepOptions<T> {
  /** Shown with the step in the plan and when it starts. */
  detail?: string;
  /** Reads only: runs in dry-run too (pre-flight checks, listings). */
  readOnly?: boolean;
  /** Destructive: ask the operator to type the target's name first. */
  confirm?: ConfirmRequest;
  /** What a skipped step returns in dry-run. */
  dryRunResult?: T;
}

export interface StepContext {
  /** Report progress; drawn as a bar on a TTY, sampled into NDJSON. */
  progress(done: number, total: number, unit?: string): void;
  /** Fields added to the step's end event (counts, ids, paths). */
  record(fields: Record<string, unknown>): void;
  /** A short note printed with the step's end line. */
  note(text: string): void;
  /** The step ran to its end but its verdict is a failure (a drill scenario): shown as failed, not thrown. */
  fail(text: string): void;
}

export interface StepTiming {
  step: string;
  ms: number;
  status: 'ok' | 'failed' | 'planned';
}

/** Who ran it: the login behind sudo when there is one. */
/**
 * This process's peak RSS in MiB. Linux: VmHWM, the high-water mark of this
 * process's own memory. getrusage's maxrss is not that: a child forked from
 * a big parent starts its count at the parent's size (a benchmark holding
 * 355 MB of piped rows made every CLI it started report 360 MB).
 */
function peakRssMb(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Math.round(Number(kb) / 1024);
  } catch {
    // not Linux: fall back to getrusage
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

function operator(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return process.env.SUDO_USER ? `${process.env.SUDO_USER} (as ${user})` : user;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${crypto.randomBytes(3).toString('hex')}`;
}

/**
 * One execution of a runbook: the single choke point through which every
 * step runs, so dry-run, confirmation, timing, events and audit are handled
 * once for all runbooks.
 */
export class Run {
  readonly id = newRunId();
  readonly runbook: string;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly masker: Masker;
  readonly startedAt = Date.now();
  readonly steps: StepTiming[] = [];
  private readonly sinks: EventSink[] = [];
  private readonly audit?: AuditSink;
  private readonly stdout: Writable;
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private lastProgressEvent = 0;
  /** Something outside the run was changed (then a usage/config error is exit 1, not 2). */
  private changing = false;
  private finished = false;
  private finishing?: Promise<ExitCode>;
  /** Figures gathered so far; they reach the summary even when the run fails. */
  readonly figures: Record<string, unknown> = {};

  constructor(private readonly opts: RunOptions) {
    this.runbook = opts.runbook;
    this.dryRun = opts.dryRun;
    this.yes = opts.yes;
    this.json = opts.json;
    this.masker = opts.masker;
    this.stdout = opts.stdout ?? process.stdout;
    if (opts.json) this.sinks.push(opts.document ? new DocumentSink(opts.masker, this.stdout) : new JsonSink(opts.masker, this.stdout));
    else this.sinks.push(new HumanSink(opts.masker, opts.stderr ?? process.stderr));
    if (opts.audit !== false) {
      this.audit = new AuditSink(opts.masker, auditDir(), opts.runbook, this.id);
      this.sinks.push(this.audit);
    }
    this.emit('start', undefined, { command: opts.command, dryRun: opts.dryRun, pid: process.pid, argv: process.argv.slice(2), operator: operator() });
  }

  get auditFile(): string | undefined {
    return this.audit?.file;
  }

  emit(event: EventKind, step: string | undefined, fields: Record<string, unknown> = {}): void {
    // After the summary nothing more is written: late events (a killed child's log) must not crash the exit.
    if (this.finished) return;
    const record: RunEvent = { ts: new Date().toISOString(), run: this.id, runbook: this.runbook, ...(step ? { step } : {}), event, ...fields };
    for (const sink of this.sinks) sink.write(record);
  }

  warn(message: string, fields: Record<string, unknown> = {}, step?: string): void {
    this.emit('warn', step, { message, ...fields });
  }

  /** Add figures to the summary (kept if a later step fails). */
  report(figures: Record<string, unknown>): void {
    Object.assign(this.figures, figures);
  }

  info(message: string, fields: Record<string, unknown> = {}): void {
    this.emit('info', undefined, { message, ...fields });
  }

  /** Text for stdout that is the command's answer (a listing); with --json the summary carries it instead. */
  print(text: string): void {
    if (!this.json && !this.finished) this.stdout.write(this.masker.mask(text) + '\n');
  }

  /** Record a line of zx's command log in the audit trail (masked). */
  auditRaw(record: Record<string, unknown>): void {
    if (this.finished) return;
    this.audit?.writeRaw({ ts: new Date().toISOString(), run: this.id, ...record });
  }

  /**
   * Record that this run has changed something (created a database, wrote to
   * a repository): from now on a usage or config error cannot honestly say
   * "nothing was changed" (exit 2); it is a failure while running (exit 1).
   */
  markChanged(): void {
    this.changing = true;
  }

  private stepsStarted = 0;
  private stepsExpected = 0;
  /** The number of steps this run will take, when the runbook knows it: start events then say "step N of M". */
  expectSteps(total: number): void {
    this.stepsExpected = this.stepsStarted + total;
  }

  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.unshift(fn);
  }

  /**
   * Serialise runs of this runbook against one target; a second run exits 4.
   * (Migrations also hold a PostgreSQL advisory lock per plan: Journal.lock.)
   */
  async lock(target: string): Promise<void> {
    if (this.dryRun) return;
    const lock = await acquireFileLock(this.runbook, target, this.id);
    this.onCleanup(() => lock.release());
  }

  async step<T>(name: string, fn: (ctx: StepContext) => Promise<T>, opts: StepOptions<T> = {}): Promise<T> {
    this.stepsStarted++;
    const position = this.stepsExpected ? { index: this.stepsStarted, of: Math.max(this.stepsExpected, this.stepsStarted) } : {};
    if (this.dryRun && !opts.readOnly) {
      this.emit('plan', name, { detail: opts.detail, destructive: Boolean(opts.confirm), ...position });
      this.steps.push({ step: name, ms: 0, status: 'planned' });
      return opts.dryRunResult as T;
    }
    if (opts.confirm) await confirmDestructive(opts.confirm, { yes: this.yes });
    const started = performance.now();
    const fields: Record<string, unknown> = {};
    let note: string | undefined;
    let status: 'ok' | 'failed' = 'ok';
    const bar = this.json ? undefined : new ProgressBar(name, (this.opts.stderr ?? process.stderr) as NodeJS.WriteStream);
    this.emit('start', name, { ...(opts.detail ? { detail: opts.detail } : {}), ...position });
    let lastDone = 0;
    let lastSent = '';
    const ctx: StepContext = {
      progress: (done, total, unit = '') => {
        // Never backwards: a parsed tool log may repeat or overshoot; total grows to cover done.
        done = Math.max(done, lastDone);
        total = Math.max(total, done);
        lastDone = done;
        const estimate = progressEstimate(done, total, performance.now() - started);
        bar?.update(done, total, unit, estimate);
        const now = Date.now();
        // Sampled once a second; completion always, but once.
        const complete = done >= total && lastSent !== `${done}/${total}`;
        if (now - this.lastProgressEvent >= 1000 || complete) {
          this.lastProgressEvent = now;
          lastSent = `${done}/${total}`;
          if (this.json || this.audit) this.emitProgress(name, done, total, unit, estimate);
        }
      },
      record: (extra) => Object.assign(fields, extra),
      note: (text) => {
        note = text;
      },
      fail: (text) => {
        status = 'failed';
        note = text;
      },
    };
    try {
      const result = await fn(ctx);
      bar?.done();
      const ms = Math.round(performance.now() - started);
      this.steps.push({ step: name, ms, status });
      this.emit('end', name, { ms, status, ...(note ? { note } : {}), ...fields });
      return result;
    } catch (error) {
      bar?.done();
      const ms = Math.round(performance.now() - started);
      this.steps.push({ step: name, ms, status: 'failed' });
      if (error instanceof TickvaultError) error.details.step ??= name;
      else if (error instanceof Error) (error as Error & { step?: string }).step ??= name;
      throw error;
    }
  }

  private emitProgress(step: string, done: number, total: number, unit: string, estimate: ProgressEstimate): void {
    if (this.finished) return;
    const record: RunEvent = { ts: new Date().toISOString(), run: this.id, runbook: this.runbook, step, event: 'progress', done, total, unit, ...estimate };
    for (const sink of this.sinks) if (!(sink instanceof HumanSink)) sink.write(record);
  }

  /**
   * Close the run: report the error (if any), write the summary line, run
   * cleanups (locks), and return the exit code.
   */
  finish(outcome: { figures?: Record<string, unknown>; error?: unknown; reveal?: Record<string, unknown> }): Promise<ExitCode> {
    // Once: a crash handler and the normal path may both try to close the run.
    this.finishing ??= this.close(outcome);
    return this.finishing;
  }

  /** The summary has been written (or is being written). */
  get closed(): boolean {
    return this.finishing !== undefined;
  }

  private async close(outcome: { figures?: Record<string, unknown>; error?: unknown; reveal?: Record<string, unknown> }): Promise<ExitCode> {
    const { error } = outcome;
    let exitCode: ExitCode = error === undefined ? 0 : exitCodeOf(error);
    // Exit 2 promises "nothing was changed": not true once a changing step has run.
    if (exitCode === 2 && this.changing) exitCode = 1;
    if (error !== undefined) {
      const details = error instanceof TickvaultError ? error.details : {};
      const step = (details.step as string | undefined) ?? (error as { step?: string }).step;
      this.emit('error', step, { code: codeOf(error), exitCode, message: messageOf(error), ...(details.hint ? { hint: details.hint } : {}) });
    }
    for (const cleanup of this.cleanups) {
      try {
        await cleanup();
      } catch (cleanupError) {
        this.warn(`cleanup failed: ${messageOf(cleanupError)}`);
      }
    }
    const summary: RunEvent = {
      ts: new Date().toISOString(),
      run: this.id,
      runbook: this.runbook,
      event: 'summary',
      ok: exitCode === 0,
      exitCode,
      dryRun: this.dryRun,
      durationMs: Date.now() - this.startedAt,
      maxRssMb: peakRssMb(),
      steps: this.steps,
      ...(error !== undefined ? { error: { code: codeOf(error), message: messageOf(error) } } : {}),
      ...this.figures,
      ...outcome.figures,
      ...(this.audit ? { audit: this.audit.file } : {}),
    };
    for (const sink of this.sinks) {
      if (sink instanceof JsonSink && outcome.reveal) {
        // Fields deliberately printed unmasked on stdout only (local-stack URLs).
        const masked = this.masker.maskValue(summary);
        this.stdout.write(JSON.stringify({ ...masked, ...outcome.reveal }) + '\n');
      } else sink.write(summary);
      sink.close();
    }
    this.finished = true;
    return exitCode;
  }
}
