import fs from 'node:fs';
import { dotenvEntries, parseDotenv } from '../env/dotenv';
import { ConfigError } from './errors';
import { localEnvFile } from './paths';
import { isTargetSetting, type SettingOrigin } from './where';

/** KEY=value settings through the one dotenv parser (env/dotenv.ts); lines it cannot read are ignored here. */
export function parseEnvText(text: string): Record<string, string> {
  return Object.fromEntries(dotenvEntries(parseDotenv(text)));
}

export function readEnvFile(file: string): Record<string, string> {
  try {
    return parseEnvText(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

/**
 * Settings resolve flags > environment variables > .tickvault/local/env
 * (written by `local.ts up`), and say where each value came from.
 */
export class Settings {
  readonly file: Record<string, string>;
  /** Told of every target setting (URLs, repositories) the run resolves, with its origin. */
  onTarget?: (name: string, value: string, origin: SettingOrigin) => void;
  constructor(private readonly env: NodeJS.ProcessEnv = process.env, fileValues?: Record<string, string>) {
    this.file = fileValues ?? readEnvFile(localEnvFile());
  }

  get(name: string, flag?: string | undefined): string | undefined {
    const value = flag ?? this.env[name] ?? this.file[name];
    if (value !== undefined && value !== '' && isTargetSetting(name)) this.onTarget?.(name, value, this.source(name, flag));
    return value;
  }

  source(name: string, flag?: string): SettingOrigin {
    if (flag !== undefined) return 'flag';
    if (this.env[name] !== undefined) return 'env';
    return this.file[name] !== undefined ? 'local-stack' : 'unset';
  }

  require(name: string, flag?: string, flagName?: string): string {
    const value = this.get(name, flag);
    if (value === undefined || value === '') {
      throw new ConfigError(`${name} is not set`, {
        hint: `pass ${flagName ?? `--${name.toLowerCase().replace(/_/g, '-')}`}, export ${name}, or start the local stack with "npx tsx runbooks/local.ts up"`,
      });
    }
    return value;
  }

  /** Every value this run can see, for registering secrets with the masker. */
  all(): Record<string, string | undefined> {
    return { ...this.file, ...this.env };
  }
}

/**
 * A setting's check: the safeParse shape zod schemas share, so either fits
 * `validated`. The URL checks are plain code: loading zod costs every
 * runbook's start (--help included) about 100 ms.
 */
export interface Validator<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
}

const urlWith = (protocols: string[]): Validator<string> => ({
  safeParse(value) {
    let ok = false;
    try {
      ok = typeof value === 'string' && protocols.includes(new URL(value).protocol);
    } catch {
      ok = false;
    }
    if (ok) return { success: true, data: value as string };
    const message = typeof value === 'string' ? `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` : 'expected a string';
    return { success: false, error: { issues: [{ message }] } };
  },
});

export const postgresUrl = urlWith(['postgres:', 'postgresql:']);
export const redisUrl = urlWith(['redis:', 'rediss:']);
export const httpUrl = urlWith(['http:', 'https:']);
export const repoUrl = urlWith(['file:', 's3:']);

/** Validate one setting and name the key in the error. */
export function validated<T>(name: string, schema: Validator<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]?.message ?? 'invalid';
    throw new ConfigError(`${name}: ${issue}`);
  }
  return result.data;
}
