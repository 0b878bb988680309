import { UsageError } from './errors';

const UNITS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 } as const;

/**
 * The one duration parser: 90s, 15m, 24h, 30d, 250ms, and a bare 0 (no
 * unit needed for nothing). Any other bare number is refused: "5" could
 * mean seconds or hours.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^0+(\.0+)?$/.test(trimmed)) return 0;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(trimmed);
  if (!match) throw new Error(`not a duration: "${text}" (use e.g. 0, 90s, 15m, 24h, 30d)`);
  return Number(match[1]) * UNITS[match[2] as keyof typeof UNITS];
}

/** A duration flag; a malformed value is a usage error naming the flag. */
export function durationFlag(name: string, value: string | undefined, fallback: string): number {
  try {
    return parseDuration(value ?? fallback);
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
}

/**
 * A duration flag that replaced a whole-days one (`--retention 30d` for
 * `--retention-days 30`): the old spelling still works and is named as
 * deprecated; both at once is a usage error.
 */
export function durationWithDaysAlias(flags: Record<string, unknown>, name: string, daysAlias: string, fallback: string): { ms: number; deprecated?: string } {
  const value = flags[name];
  const days = flags[daysAlias];
  if (typeof days !== 'string') return { ms: durationFlag(name, typeof value === 'string' ? value : undefined, fallback) };
  if (typeof value === 'string') throw new UsageError(`--${name} and --${daysAlias} are the same setting: give only --${name}`);
  if (!/^\d+(\.\d+)?$/.test(days.trim())) throw new UsageError(`--${daysAlias} must be a number of days, got "${days}" (or use --${name} ${days.trim()}${/^\d/.test(days) ? '' : ', e.g. 30d'})`);
  return { ms: Number(days) * UNITS.d, deprecated: `--${daysAlias} ${days} is deprecated: use --${name} ${days}d` };
}
