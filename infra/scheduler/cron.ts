/**
 * The subset of EventBridge cron expressions the job list uses, evaluated
 * in UTC: `cron(M H * * ? *)` daily and `cron(M H ? * DAY *)` weekly.
 */
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export interface DailyOrWeekly {
  minute: number;
  hour: number;
  /** 0 = Sunday; undefined = every day. */
  weekday?: number;
}

export function parseCron(expression: string): DailyOrWeekly {
  const m = /^cron\((\d{1,2}) (\d{1,2}) (\*|\?) \* (\?|\*|[A-Z]{3}) \*\)$/.exec(expression);
  if (!m) throw new Error(`unsupported schedule "${expression}": the dev scheduler knows cron(M H * * ? *) and cron(M H ? * DAY *)`);
  const minute = Number(m[1]);
  const hour = Number(m[2]);
  if (minute > 59 || hour > 23) throw new Error(`schedule "${expression}": minute or hour out of range`);
  const day = m[4] ?? '?';
  if (day === '?' || day === '*') return { minute, hour };
  const weekday = DAYS.indexOf(day);
  if (weekday < 0) throw new Error(`schedule "${expression}": unknown day ${day}`);
  return { minute, hour, weekday };
}

/** The first time strictly after `from` that the schedule fires. */
export function nextRun(expression: string, from: Date): Date {
  const { minute, hour, weekday } = parseCron(expression);
  const candidate = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate(), hour, minute));
  for (let i = 0; i < 8; i++) {
    if (candidate > from && (weekday === undefined || candidate.getUTCDay() === weekday)) return candidate;
    candidate.setUTCDate(candidate.getUTCDate() + 1);
  }
  throw new Error(`schedule "${expression}": no run within a week`);
}
