import type pg from 'pg';
import { embeddingChecks, type Check } from '../verify/integrity';

// Seed 004's validation: 17 checks ("17 checks exécutés, 17 passés"):
// counts vs the source, the three foreign-key checks (trades, journals,
// tags), the TimescaleDB layout (hypertable, compression and its policy,
// compressed chunks), the four aggregates (present, refresh policies,
// freshness, completeness), tick freshness and ranges, and embedding
// coverage. A check that cannot run is SKIP with the reason.

export const SEED004_CHECKS = 17;
const TICK_TABLE = 'public.tick_data';
const WANTED_BUCKETS = ['00:01:00', '00:05:00', '01:00:00', '1 day'];

const pass = (ok: boolean): Check['verdict'] => (ok ? 'PASS' : 'FAIL');
const exists = async (c: pg.ClientBase, rel: string) => Boolean((await c.query('SELECT to_regclass($1) IS NOT NULL AS ok', [rel])).rows[0]?.ok);
const one = async <T extends pg.QueryResultRow>(c: pg.ClientBase, sql: string, params: unknown[] = []): Promise<T> => (await c.query<T>(sql, params)).rows[0]!;

async function counts(source: pg.ClientBase | undefined, db: pg.ClientBase): Promise<Check[]> {
  const out: Check[] = [];
  for (const table of ['public.users', 'public.trades', TICK_TABLE]) {
    const name = `${table} count vs source`;
    if (!source) out.push({ group: 'counts', name, verdict: 'SKIP', detail: 'no --source-url' });
    else if (!(await exists(source, table)) || !(await exists(db, table))) out.push({ group: 'counts', name, verdict: 'SKIP', detail: `${table} not on both sides` });
    else {
      const [a, b] = await Promise.all([one<{ n: string }>(source, `SELECT count(*)::text AS n FROM ${table}`), one<{ n: string }>(db, `SELECT count(*)::text AS n FROM ${table}`)]);
      out.push({ group: 'counts', name, verdict: pass(a.n === b.n), detail: `source ${a.n}, target ${b.n}` });
    }
  }
  return out;
}

/** Orphans by value, whether or not a constraint exists (a NOT VALID or missing key can hide them). */
async function orphans(db: pg.ClientBase, child: string, column: string, parent: string, parentKey: string): Promise<Check> {
  const name = `${child}.${column} → ${parent}`;
  if (!(await exists(db, child)) || !(await exists(db, parent))) return { group: 'foreign keys', name, verdict: 'SKIP', detail: `no ${(await exists(db, child)) ? parent : child} table` };
  const hasColumn = (await db.query('SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped', [child, column])).rowCount;
  if (!hasColumn) return { group: 'foreign keys', name, verdict: 'SKIP', detail: `${child} has no column ${column}` };
  const r = await one<{ n: string }>(db, `SELECT count(*)::text AS n FROM ${child} c WHERE c.${column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${parent} p WHERE p.${parentKey} = c.${column})`);
  return { group: 'foreign keys', name, verdict: pass(r.n === '0'), detail: `${r.n} orphan(s)` };
}

interface Layout {
  timescale: boolean;
  hypertable: boolean;
}

async function layout(db: pg.ClientBase): Promise<{ checks: Check[]; info: Layout }> {
  const timescale = await exists(db, 'timescaledb_information.hypertables');
  const noTs = (name: string, group: Check['group'] = 'layout'): Check => ({ group, name, verdict: 'SKIP', detail: timescale ? 'tick_data is not a hypertable' : 'TimescaleDB is not installed in this database' });
  const ht = timescale ? await db.query<{ col: string; width: string }>("SELECT column_name AS col, time_interval::text AS width FROM timescaledb_information.dimensions WHERE hypertable_schema = 'public' AND hypertable_name = 'tick_data' AND dimension_type = 'Time'") : undefined;
  const hypertable = Boolean(ht?.rowCount);
  const checks: Check[] = [];
  if (!(await exists(db, TICK_TABLE))) checks.push({ group: 'layout', name: 'tick_data is a hypertable', verdict: 'FAIL', detail: 'no public.tick_data' });
  else checks.push({ group: 'layout', name: 'tick_data is a hypertable', verdict: pass(hypertable), detail: hypertable ? `time column ${ht!.rows[0]!.col}, chunks of ${ht!.rows[0]!.width}` : timescale ? 'a plain table' : 'TimescaleDB is not installed' });
  if (!hypertable) {
    checks.push(noTs('compression: segment by symbol, order by ts DESC', 'compression'), noTs('compression policy scheduled', 'compression'), noTs('old chunks compressed', 'compression'));
    return { checks, info: { timescale, hypertable } };
  }
  const settings = await db.query<{ attname: string; s: number | null; asc: boolean | null }>("SELECT attname, segmentby_column_index AS s, orderby_asc AS asc FROM timescaledb_information.compression_settings WHERE hypertable_schema = 'public' AND hypertable_name = 'tick_data' ORDER BY coalesce(segmentby_column_index, 0), orderby_column_index");
  const seg = settings.rows.filter((r) => r.s !== null).map((r) => r.attname);
  const ord = settings.rows.filter((r) => r.asc !== null).map((r) => `${r.attname} ${r.asc ? 'ASC' : 'DESC'}`);
  checks.push({ group: 'compression', name: 'compression: segment by symbol, order by ts DESC', verdict: pass(seg.join(',') === 'symbol' && ord[0] === 'ts DESC'), detail: settings.rowCount ? `segment by ${seg.join(',') || '-'}, order by ${ord.join(', ') || '-'}` : 'compression not enabled' });
  const policy = await db.query<{ after: string | null; scheduled: boolean }>("SELECT config->>'compress_after' AS after, scheduled FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' AND hypertable_schema = 'public' AND hypertable_name = 'tick_data'");
  const p = policy.rows[0];
  checks.push({ group: 'compression', name: 'compression policy scheduled', verdict: pass(Boolean(p?.scheduled)), detail: p ? `compress after ${p.after}${p.scheduled ? '' : ' (not scheduled)'}` : 'no compression policy' });
  if (!p?.after) checks.push({ group: 'compression', name: 'old chunks compressed', verdict: 'SKIP', detail: 'no compression policy to say which chunks are old' });
  else {
    // A day of grace: the policy runs on its schedule, so a chunk that just aged may still wait for it.
    const r = await one<{ old: string; done: string }>(db, "SELECT count(*)::text AS old, count(*) FILTER (WHERE is_compressed)::text AS done FROM timescaledb_information.chunks WHERE hypertable_schema = 'public' AND hypertable_name = 'tick_data' AND range_end <= now() - $1::interval - interval '1 day'", [p.after]);
    checks.push({ group: 'compression', name: 'old chunks compressed', verdict: pass(r.old === r.done), detail: `${r.done} of ${r.old} chunks older than ${p.after} + 1 day compressed` });
  }
  return { checks, info: { timescale, hypertable } };
}

interface Aggregate {
  view: string;
  width: string;
  widthSeconds: number;
  policy: { start: string; end: string; every: string } | null;
}

async function aggregates(db: pg.ClientBase, info: Layout): Promise<Check[]> {
  const names = ['four OHLCV aggregates (1m, 5m, 1h, 1d)', 'each aggregate has a refresh policy', 'aggregates fresh', 'aggregates hold every tick'];
  if (!info.hypertable) return names.map((name) => ({ group: 'aggregates', name, verdict: 'SKIP', detail: info.timescale ? 'tick_data is not a hypertable' : 'TimescaleDB is not installed in this database' }));
  const { rows } = await db.query<{ view: string; width: string; seconds: string; start: string | null; end_: string | null; every: string | null }>(
    `SELECT a.view_schema || '.' || a.view_name AS view, w::text AS width, extract(epoch FROM w)::text AS seconds,
            j.config->>'start_offset' AS start, j.config->>'end_offset' AS end_, j.schedule_interval::text AS every
       FROM timescaledb_information.continuous_aggregates a
       CROSS JOIN LATERAL (SELECT substring(a.view_definition FROM 'time_bucket\\(''([^'']+)''')::interval AS w) b
       LEFT JOIN timescaledb_information.jobs j ON j.proc_name = 'policy_refresh_continuous_aggregate' AND (j.hypertable_schema, j.hypertable_name) IN ((a.materialization_hypertable_schema, a.materialization_hypertable_name), (a.view_schema, a.view_name))
      WHERE a.hypertable_schema = 'public' AND a.hypertable_name = 'tick_data' ORDER BY w`,
  );
  const aggs: Aggregate[] = rows.map((r) => ({ view: r.view, width: r.width, widthSeconds: Number(r.seconds), policy: r.every ? { start: r.start ?? '', end: r.end_ ?? '', every: r.every } : null }));
  const widths = aggs.map((a) => a.width);
  const missing = WANTED_BUCKETS.filter((w) => !widths.includes(w));
  const out: Check[] = [{ group: 'aggregates', name: names[0]!, verdict: pass(missing.length === 0), detail: `${aggs.length} on tick_data (${aggs.map((a) => `${a.view} ${a.width}`).join(', ') || 'none'})${missing.length ? `; missing buckets ${missing.join(', ')}` : ''}` }];
  const unpolicied = aggs.filter((a) => !a.policy).map((a) => a.view);
  out.push(aggs.length === 0 ? { group: 'aggregates', name: names[1]!, verdict: 'SKIP', detail: 'no aggregates' } : { group: 'aggregates', name: names[1]!, verdict: pass(unpolicied.length === 0), detail: unpolicied.length ? `no refresh policy: ${unpolicied.join(', ')}` : `${aggs.length} refresh policies` });
  // Fresh: the newest materialised bucket ends within end_offset + schedule + one bucket of the newest tick.
  if (aggs.length === 0) out.push({ group: 'aggregates', name: names[2]!, verdict: 'SKIP', detail: 'no aggregates' });
  else {
    const newest = await one<{ ts: string | null }>(db, `SELECT max(ts)::text AS ts FROM ${TICK_TABLE}`);
    if (!newest.ts) out.push({ group: 'aggregates', name: names[2]!, verdict: 'SKIP', detail: 'no ticks' });
    else {
      const stale: string[] = [];
      const lags: string[] = [];
      for (const a of aggs) {
        const r = await one<{ lag: string | null; allowed: string }>(db, `SELECT extract(epoch FROM ($1::timestamptz - (max(bucket) + $2::interval)))::text AS lag, extract(epoch FROM (coalesce($3::interval, '0') + coalesce($4::interval, '0') + $2::interval))::text AS allowed FROM ${a.view}`, [newest.ts, a.width, a.policy?.end ?? null, a.policy?.every ?? null]);
        const lag = r.lag === null ? Infinity : Number(r.lag);
        lags.push(`${a.view} ${r.lag === null ? 'empty' : `${Math.max(0, Math.round(lag))}s`}`);
        if (lag > Number(r.allowed)) stale.push(a.view);
      }
      out.push({ group: 'aggregates', name: names[2]!, verdict: pass(stale.length === 0), detail: `lag behind the newest tick: ${lags.join(', ')}${stale.length ? `; stale: ${stale.join(', ')}` : ''}` });
    }
  }
  // Complete: the widest aggregate's tick counts equal the raw rows up to its newest bucket.
  const widest = aggs.at(-1);
  const hasTicks = widest ? (await db.query('SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2', [widest.view, 'ticks'])).rowCount : 0;
  if (!widest || !hasTicks) out.push({ group: 'aggregates', name: names[3]!, verdict: 'SKIP', detail: widest ? `${widest.view} has no ticks column` : 'no aggregates' });
  else {
    const r = await one<{ agg: string; raw: string }>(db, `SELECT (SELECT coalesce(sum(ticks), 0)::text FROM ${widest.view}) AS agg, (SELECT count(*)::text FROM ${TICK_TABLE} WHERE ts < (SELECT max(bucket) + $1::interval FROM ${widest.view})) AS raw`, [widest.width]);
    out.push({ group: 'aggregates', name: names[3]!, verdict: pass(r.agg === r.raw), detail: `${widest.view} counts ${r.agg} ticks, tick_data has ${r.raw} in its range` });
  }
  return out;
}

async function ticks(db: pg.ClientBase, now: Date): Promise<Check[]> {
  if (!(await exists(db, TICK_TABLE))) return [{ group: 'freshness', name: 'tick_data freshness', verdict: 'FAIL', detail: 'no public.tick_data' }, { group: 'ranges', name: 'tick prices positive, volumes not negative', verdict: 'FAIL', detail: 'no public.tick_data' }];
  const r = await one<{ ts: string | null; bad: string }>(db, `SELECT max(ts)::text AS ts, count(*) FILTER (WHERE price <= 0 OR volume < 0)::text AS bad FROM ${TICK_TABLE}`);
  const minutes = r.ts === null ? null : (now.getTime() - Date.parse(r.ts)) / 60_000;
  return [
    { group: 'freshness', name: 'tick_data freshness', verdict: minutes === null ? 'FAIL' : minutes < 5 ? 'PASS' : minutes < 60 ? 'WARN' : 'FAIL', detail: minutes === null ? 'no ticks' : `${minutes.toFixed(1)} min stale` },
    { group: 'ranges', name: 'tick prices positive, volumes not negative', verdict: pass(r.bad === '0'), detail: `${r.bad} bad rows` },
  ];
}

/** Seed 004's 17 checks on the migrated database (source optional: counts SKIP without it). */
export async function seed004Checks(db: pg.ClientBase, opts: { source?: pg.ClientBase; qdrant?: { url: string; apiKey?: string }; collection?: string; now?: Date } = {}): Promise<Check[]> {
  const { checks: layoutChecks, info } = await layout(db);
  const embeddings = (await exists(db, 'public.trades')) ? await embeddingChecks(db, opts.qdrant, opts.collection ?? 'trades') : [{ group: 'embeddings' as const, name: `${opts.collection ?? 'trades'} embedding coverage`, verdict: 'SKIP' as const, detail: 'no public.trades' }];
  return [
    ...(await counts(opts.source, db)),
    await orphans(db, 'public.trades', 'user_id', 'public.users', 'id'),
    await orphans(db, 'public.journal_entries', 'trade_id', 'public.trades', 'id'),
    await orphans(db, 'public.trade_tags', 'trade_id', 'public.trades', 'id'),
    ...layoutChecks,
    ...(await aggregates(db, info)),
    ...(await ticks(db, opts.now ?? new Date())),
    ...embeddings,
  ];
}
