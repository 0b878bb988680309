/** Durations for humans, one style everywhere: 850 ms, 12.4 s, 3 min 05 s, 1 h, 2 h 05 min, 24 h, 2 d 4 h (days from 48 h). */
export function formatMs(ms: number): string {
  if (ms < 0) return `-${formatMs(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 2880) return minutes % 60 ? `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min` : `${minutes / 60} h`;
  const hours = Math.round(ms / 3_600_000);
  return hours % 24 ? `${Math.floor(hours / 24)} d ${hours % 24} h` : `${hours / 24} d`;
}

/** Counts for humans: 1,234 rows. */
export function formatCount(n: number, unit?: string): string {
  const text = n.toLocaleString('en-US');
  return unit ? `${text} ${unit}` : text;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Parse durations such as 90s, 15m, 24h, 30d into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: "${text}" (use e.g. 90s, 15m, 24h, 30d)`);
  const factor = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * factor;
}
