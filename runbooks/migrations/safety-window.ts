import { formatMs } from '../engine/format';

/**
 * Cleanup's schedule: it may run once the safety window has passed since
 * dual-write ended. Operators plan around an absolute time, so every place
 * that mentions the window (status, run --all, the refusal) names it.
 */
export interface CleanupSchedule {
  /** done: cleanup ran; allowed: it may run now; waiting: not before `allowedAt`; needs-dual-write: dual-write has not ended. */
  state: 'done' | 'allowed' | 'waiting' | 'needs-dual-write';
  /** ISO time from which cleanup is allowed (null until dual-write has ended). */
  allowedAt: string | null;
  windowMs: number;
}

export function cleanupSchedule(dualWriteEnded: Date | undefined, cleanupDone: boolean, windowMs: number, now = Date.now()): CleanupSchedule {
  const allowed = dualWriteEnded ? new Date(dualWriteEnded.getTime() + windowMs) : undefined;
  const state = cleanupDone ? 'done' : !allowed ? 'needs-dual-write' : allowed.getTime() <= now ? 'allowed' : 'waiting';
  return { state, allowedAt: allowed ? allowed.toISOString() : null, windowMs };
}

/** "2026-11-23T08:14:02Z (Mon 23 Nov 09:14 CET local, in 23 h 59 min)": absolute, local, and relative. */
export function describeMoment(at: Date, now = Date.now()): string {
  const local = at.toLocaleString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  const delta = at.getTime() - now;
  const relative = delta > 0 ? `in ${formatMs(delta)}` : `${formatMs(-delta)} ago`;
  return `${at.toISOString().replace(/\.\d{3}Z$/, 'Z')} (${local} local, ${relative})`;
}

/** One line for humans: where cleanup stands. */
export function describeSchedule(s: CleanupSchedule, now = Date.now()): string {
  const window = `safety window ${formatMs(s.windowMs)}`;
  if (s.state === 'done') return 'cleanup: done';
  if (s.state === 'needs-dual-write') return `cleanup: allowed ${formatMs(s.windowMs)} after dual-write ends (${window})`;
  const at = describeMoment(new Date(s.allowedAt!), now);
  return s.state === 'allowed' ? `cleanup: allowed now (since ${at}; ${window})` : `cleanup: allowed from ${at} (${window})`;
}
