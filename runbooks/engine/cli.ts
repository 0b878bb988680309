import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';
import { setCommandLog } from './command-log';
import { Settings } from './config';
import { messageOf, UsageError, type ExitCode } from './errors';
import { Masker } from './mask';
import { Run } from './run';
import { didYouMean } from './suggest';
import { describeTarget, isTargetSetting, type SettingOrigin } from './where';

type Options = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandResult {
  /** Figures for the summary line (counts, durations in ms, ids, paths). */
  figures?: Record<string, unknown>;
  /** Summary fields printed unmasked on stdout only (local-stack URLs). */
  reveal?: Record<string, unknown>;
}

export interface CliContext {
  run: Run;
  command: string | undefined;
  flags: FlagValues;
  args: string[];
  settings: Settings;
}

export interface RunbookSpec {
  runbook: string;
  /** Help text printed by --help (after the common flags are appended). */
  usage: string;
  options?: Options;
  /** Allowed first positional words; omitted means no sub-commands. */
  commands?: readonly string[];
  /** Whether this runbook writes an audit log (default true). */
  audit?: boolean;
  /** Commands that only read and report (list, status): they leave no audit log behind. */
  readOnlyCommands?: readonly string[];
  /** Commands whose --json answer is one JSON document (listings), not an event stream. */
  documentCommands?: readonly string[];
  main(ctx: CliContext): Promise<CommandResult | void>;
}

// The SDK warns that Node 20 support ends in 2027; the lockfile pins a version that supports it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const COMMON: Options = {
  json: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  yes: { type: 'boolean', short: 'y', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

const COMMON_HELP = `
Common flags:
  --json       NDJSON events on stdout, the last line a summary
  --dry-run    print the plan of steps, change nothing
  --yes, -y    answer destructive confirmations (non-interactive runs)
  --help, -h   this text
Exit codes: 0 ok · 1 failed · 2 usage/config · 3 verification or RTO/RPO missed · 4 refused`;

/** What `tickvault completion` needs of a runbook, collected without running it. */
export interface RunbookDescription {
  runbook: string;
  commands: readonly string[];
  flags: string[];
  /** The full --help text (the runbook's usage and the common flags). */
  help: string;
}

const DESCRIBE = Symbol.for('tickvault.describe');
type DescribeSink = RunbookDescription[];

/** Collect the specs of the runbooks imported while `fn` runs, instead of running them. */
export async function describeRunbooks(load: () => Promise<unknown>): Promise<RunbookDescription[]> {
  const sink: DescribeSink = [];
  (globalThis as Record<symbol, unknown>)[DESCRIBE] = sink;
  try {
    await load();
  } finally {
    delete (globalThis as Record<symbol, unknown>)[DESCRIBE];
  }
  return sink;
}

export interface RunCliIo {
  argv?: string[];
  stdout?: Writable;
  stderr?: Writable;
  env?: NodeJS.ProcessEnv;
}

/**
 * The thin wrapper every runbook shares: parse flags, build the run, call
 * the command, turn errors into exit codes, print the summary.
 */
export async function runCli(spec: RunbookSpec, io: RunCliIo = {}): Promise<ExitCode> {
  const options: Options = { ...COMMON, ...spec.options };
  const describe = (globalThis as Record<symbol, unknown>)[DESCRIBE] as DescribeSink | undefined;
  if (describe) {
    describe.push({ runbook: spec.runbook, commands: spec.commands ?? [], flags: Object.keys(options).map((f) => `--${f}`), help: usageFor(spec.runbook, `${spec.usage.trim()}\n${COMMON_HELP}\n`) });
    return 0;
  }
  const argv = io.argv ?? process.argv.slice(2);
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  // A closed pipe (`… | head`) must not crash the run half-way; the output is simply dropped.
  for (const stream of [stdout, stderr]) if (!stream.listenerCount('error')) stream.on('error', ignoreBrokenPipe);
  const help = usageFor(spec.runbook, `${spec.usage.trim()}\n${COMMON_HELP}\n`);
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    return setExit(usageFailure(spec, flagError(error, options), { json: argv.includes('--json'), stdout, stderr, help }));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(help);
    return setExit(0);
  }
  const command = spec.commands ? positionals[0] : undefined;
  if (spec.commands && (!command || !spec.commands.includes(command))) {
    const message = command
      ? `unknown command "${command}"${didYouMean(command, spec.commands)}; expected one of: ${spec.commands.join(', ')}`
      : `a command is required: ${spec.commands.join(' | ')}`;
    return setExit(usageFailure(spec, message, { json: Boolean(values.json), stdout, stderr, help }));
  }

  const settings = new Settings(env);
  const masker = new Masker().addFromEnv(settings.all());
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') continue;
    if (/url|repo|endpoint/i.test(name)) masker.addUrl(value);
    // Flags that carry secrets by name; a plain --key (an object key, a table key) is not one.
    if (/password|secret|token|(api|private|access)[-_]?key$/i.test(name)) masker.add(value);
  }

  const run = new Run({
    runbook: spec.runbook,
    command,
    json: Boolean(values.json),
    dryRun: Boolean(values['dry-run']),
    yes: Boolean(values.yes),
    masker,
    stdout,
    stderr,
    audit: spec.audit !== false && !spec.readOnlyCommands?.includes(command ?? ''),
    document: Boolean(spec.documentCommands?.includes(command ?? '')),
  });
  setCommandLog((record) => run.auditRaw(record));
  guardExitCode(run);

  // Where it acts: every target the run resolves, once, before it is used.
  const announced = new Set<string>();
  const announce = (setting: string, value: string, origin: SettingOrigin) => {
    if (announced.has(value)) return;
    announced.add(value);
    run.emit('target', undefined, { setting, origin, where: describeTarget(value) });
  };
  for (const [name, value] of Object.entries(values)) if (typeof value === 'string' && isTargetSetting(name)) announce(`--${name}`, value, 'flag');
  settings.onTarget = announce;

  try {
    const args = spec.commands ? positionals.slice(1) : positionals;
    const result = (await spec.main({ run, command, flags: values, args, settings })) ?? {};
    return setExit(await run.finish({ figures: result.figures, reveal: result.reveal }));
  } catch (error) {
    return setExit(await run.finish({ error }));
  }
}

let guarded: Run | undefined;
/**
 * The exit code is the summary's, always. A stray exception or rejection
 * while the run is open fails it properly (error event, cleanups such as
 * stopping pg_restore, summary, then exit with that code); one after the
 * summary (a pg client erroring after it was ended) cannot change the
 * outcome any more and is only mentioned on stderr.
 */
function guardExitCode(run: Run): void {
  const first = guarded === undefined;
  guarded = run;
  if (!first) return;
  const onStray = (kind: string) => (error: unknown) => {
    const current = guarded!;
    if (current.closed) {
      process.stderr.write(`tickvault: ${kind} after the run ended (exit code kept): ${messageOf(error)}\n`);
      return;
    }
    void current.finish({ error }).then((code) => process.exit(code));
  };
  process.on('unhandledRejection', onStray('unhandled rejection'));
  process.on('uncaughtException', onStray('uncaught exception'));
}

function ignoreBrokenPipe(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
}

/** Under the `tickvault` command, usage shows its spelling instead of the per-file entry point's. */
function usageFor(runbook: string, text: string): string {
  const viaTickvault = process.argv[1]?.startsWith('tickvault-');
  return viaTickvault ? text.replaceAll(`npx tsx runbooks/${runbook}.ts`, `tickvault ${runbook}`) : text;
}

/** parseArgs' message, with the closest known flag suggested for an unknown one. */
function flagError(error: unknown, options: Options): string {
  const message = messageOf(error).split('. To specify a positional')[0]!;
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
  if (!unknown) return message;
  return `unknown flag ${unknown}${didYouMean(unknown, Object.keys(options).map((f) => `--${f}`))}`;
}

/**
 * A usage error before the run starts: nothing was changed, exit 2. With
 * --json the answer is still NDJSON (an error event and a summary), so
 * scripts never have to parse stderr.
 */
function usageFailure(spec: RunbookSpec, message: string, out: { json: boolean; stdout: Writable; stderr: Writable; help: string }): ExitCode {
  if (out.json) {
    const base = { ts: new Date().toISOString(), run: null, runbook: spec.runbook };
    const error = { code: 'TV_USAGE', message };
    out.stdout.write(`${JSON.stringify({ ...base, event: 'error', exitCode: 2, ...error })}\n`);
    out.stdout.write(`${JSON.stringify({ ...base, event: 'summary', ok: false, exitCode: 2, error })}\n`);
  } else {
    out.stderr.write(`${spec.runbook}: ${message}\n\n${out.help}`);
  }
  return 2;
}

function setExit(code: ExitCode): ExitCode {
  process.exitCode = code;
  return code;
}

/** Flag accessors that turn a missing or malformed flag into a usage error. */
export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

export function numberFlag(flags: FlagValues, name: string, fallback: number): number {
  const raw = stringFlag(flags, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got "${raw}"`);
  return value;
}

/** The one --scale range (seed, drill): a positive number up to 100 (1 = seed 004's size). */
export const SCALE_MAX = 100;
export function scaleFlag(flags: FlagValues, fallback: number): number {
  const scale = numberFlag(flags, 'scale', fallback);
  if (!(scale > 0 && scale <= SCALE_MAX)) throw new UsageError(`--scale must be in (0, ${SCALE_MAX}], got ${stringFlag(flags, 'scale')}`);
  return scale;
}
