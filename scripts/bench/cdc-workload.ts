import pg from 'pg';
import { sql } from './common';

/**
 * The one workload both change-capture tools get (scripts/bench/cdc.ts):
 * a ticks table built deterministically (same rows in every database), a
 * burst of changes left for the tool to catch up with, and a steady writer.
 * Lag is read the same way for both, by plain SQL that shares no code with either tool.
 */
export const TICKS_DDL = (rows: number) => `CREATE TABLE public.ticks (id bigint PRIMARY KEY, symbol text NOT NULL, ts timestamptz NOT NULL, price numeric(18,2) NOT NULL, volume numeric(18,8) NOT NULL);
  INSERT INTO public.ticks SELECT g, 'S' || (g % 50), timestamptz '2025-01-01' - g * interval '1 second', 100 + g % 97, g % 13 FROM generate_series(1, ${rows}) g`;

/** Marker row committed after the burst: once a tool shows it on the target, every change before it is there (each tool applies in commit order). */
export const MARKER_ID = 0;
/** A row with more than 6 significant digits, committed with the marker: does it arrive exactly? */
export const PROBE = { id: 987_654_321, price: '12345.67' };

/**
 * `changes` row changes in 100-row transactions (60 updates, 20 inserts,
 * 20 deletes each), then the marker and the probe in one transaction.
 * Returns the number of row changes made, those two included.
 */
export async function burst(url: string, rows: number, changes: number): Promise<number> {
  const txns = Math.ceil(changes / 100);
  // Updated ids (1..60·txns) and deleted ids (60·txns+1..80·txns) do not overlap, so every statement changes exactly its rows.
  if (rows < 80 * txns) throw new Error(`--rows must be at least 0.8 × --changes (${80 * txns} for ${changes} changes)`);
  await sql(url, `DO $$ BEGIN FOR i IN 0..${txns - 1} LOOP
    UPDATE public.ticks SET price = price + 1 WHERE id > i * 60 AND id <= i * 60 + 60;
    INSERT INTO public.ticks SELECT ${rows} + i * 20 + g, 'N', timestamptz '2025-06-01' + i * interval '1 minute', 1, 1 FROM generate_series(1, 20) g;
    DELETE FROM public.ticks WHERE id > ${60 * txns} + i * 20 AND id <= ${60 * txns} + i * 20 + 20;
    COMMIT; END LOOP; END $$`);
  await sql(url, `INSERT INTO public.ticks VALUES (${MARKER_ID}, 'MARK', timestamptz '2025-06-01', 1, 1), (${PROBE.id}, 'PROBE', timestamptz '2025-06-01', ${PROBE.price}, 1)`);
  return txns * 100 + 2;
}

/** The probe row as the target has it: exact, altered (say how), or missing. */
export async function probeOnTarget(url: string): Promise<string> {
  const { rows } = await sql(url, `SELECT id::text, price::text FROM public.ticks WHERE symbol = 'PROBE'`);
  if (!rows.length) return 'missing';
  const r = rows[0] as { id: string; price: string };
  return r.id === String(PROBE.id) && Number(r.price) === Number(PROBE.price) ? 'exact' : `altered: id ${PROBE.id} → ${r.id}, price ${PROBE.price} → ${r.price}`;
}

/** Ms since an arbitrary origin, for spans measured in this process. */
export const now = () => performance.now();

/** Poll `probe` every `everyMs` until it returns true; returns when (ms since origin). Benchmarks only: tests never poll on time. */
export async function until(probe: () => Promise<boolean>, everyMs = 20, timeoutMs = 600_000): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (await probe()) return now();
    if (now() > deadline) throw new Error(`gave up after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A writer at `rate` row updates per second (one UPDATE of rate/10 random
 * rows every 100 ms), each stamping ts = clock_timestamp(), so the target's
 * newest ts tells how far behind it is in seconds.
 */
export class SteadyWriter {
  written = 0;
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<unknown> = Promise.resolve();
  constructor(private readonly client: pg.Client, private readonly rate: number, private readonly rows: number) {}

  start(): this {
    const due = Math.max(1, Math.round(this.rate / 10));
    this.timer = setInterval(() => {
      this.inFlight = this.client
        .query(`UPDATE public.ticks SET volume = volume + 1, ts = clock_timestamp() WHERE id IN (SELECT 1 + (random() * ${Math.floor(this.rows / 2) - 1})::bigint FROM generate_series(1, ${due}))`)
        .then((r) => (this.written += r.rowCount ?? 0));
    }, 100);
    return this;
  }

  /** Stop issuing writes and wait for the last one to commit. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
  }
}

export interface LagSamples {
  maxBytes: number;
  medianBytes: number;
  maxSeconds: number;
  medianSeconds: number;
  samples: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};

/**
 * Sample lag every 100 ms while `running()`: bytes = source's WAL position
 * minus the tool's applied position (`applied()`), seconds = newest ts on
 * the source minus newest ts on the target, not before `since` (the
 * writer's start); both plain SQL. Bytes are the cluster's WAL: when source
 * and target share a cluster (the local stack), a tool's own apply writes
 * count until its next pass, so the median says more than the maximum.
 */
export async function sampleLag(source: pg.Client, target: pg.Client, applied: () => Promise<string | null>, running: () => boolean, since: Date): Promise<LagSamples> {
  const bytes: number[] = [];
  const seconds: number[] = [];
  while (running()) {
    const lsn = await applied();
    const [s, t] = await Promise.all([
      source.query<{ ts: Date; bytes: string | null }>('SELECT max(ts) AS ts, pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text AS bytes FROM public.ticks', [lsn ?? '0/0']),
      target.query<{ ts: Date }>('SELECT max(ts) AS ts FROM public.ticks'),
    ]);
    bytes.push(Number(s.rows[0]!.bytes ?? 0));
    // Before the target has the first steady write, it is behind by everything since the writer started.
    seconds.push((s.rows[0]!.ts.getTime() - Math.max(t.rows[0]!.ts.getTime(), since.getTime())) / 1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { maxBytes: Math.max(0, ...bytes), medianBytes: median(bytes), maxSeconds: Math.max(0, ...seconds), medianSeconds: median(seconds), samples: bytes.length };
}

/** Independent: count and md5 of every row's text in key order (plain SQL). */
export async function tableHash(url: string): Promise<string> {
  const { rows } = await sql(url, "SELECT count(*) || ':' || md5(string_agg(t::text, E'\\n' ORDER BY id)) AS h FROM public.ticks t");
  return String(rows[0].h);
}
