import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';
import { Settings } from './config';
import { messageOf, UsageError, type ExitCode } from './errors';
import { Masker } from './mask';
import { Run } from './run';
import { routeZxLog } from './shell';

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
  const argv = io.argv ?? process.argv.slice(2);
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  let parsed: { values: FlagValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON, ...spec.options }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    stderr.write(`${spec.runbook}: ${messageOf(error)}\n${spec.usage.trim()}\n${COMMON_HELP}\n`);
    return setExit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(`${spec.usage.trim()}\n${COMMON_HELP}\n`);
    return setExit(0);
  }

  const settings = new Settings(env);
  const masker = new Masker().addFromEnv(settings.all());
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'string') continue;
    if (/url|repo|endpoint/i.test(name)) masker.addUrl(value);
    // Flags that carry secrets by name; a plain --key (an object key, a table key) is not one.
    if (/password|secret|token|(api|private|access)[-_]?key$/i.test(name)) masker.add(value);
  }

  const command = spec.commands ? positionals[0] : undefined;
  const run = new Run({
    runbook: spec.runbook,
    command,
    json: Boolean(values.json),
    dryRun: Boolean(values['dry-run']),
    yes: Boolean(values.yes),
    masker,
    stdout,
    stderr,
    audit: spec.audit,
  });
  routeZxLog(run);

  try {
    if (spec.commands && (!command || !spec.commands.includes(command))) {
      throw new UsageError(command ? `unknown command "${command}"; expected one of: ${spec.commands.join(', ')}` : `a command is required: ${spec.commands.join(' | ')}`);
    }
    const args = spec.commands ? positionals.slice(1) : positionals;
    const result = (await spec.main({ run, command, flags: values, args, settings })) ?? {};
    return setExit(await run.finish({ figures: result.figures, reveal: result.reveal }));
  } catch (error) {
    return setExit(await run.finish({ error }));
  }
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
