import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { $ } from 'zx';
import { projectRoot } from '../../runbooks/engine/paths';

$.verbose = false;
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * Run a runbook as users do: the built `tickvault` command (no TypeScript
 * compilation at start-up), with --json. Builds dist/ first when missing.
 */
export function tickvault(runbook: string, args: string[], opts: { env?: NodeJS.ProcessEnv; nothrow?: boolean } = {}) {
  if (!fs.existsSync(path.join(projectRoot, 'dist', 'tickvault.js'))) throw new Error('dist/ is missing: run npm run build (bootstrap does)');
  // Executed as a command (through sh, with its V8 flag), as `tickvault` and `npx tickvault` run it.
  return $({ cwd: projectRoot, env: { ...process.env, ...opts.env }, nothrow: opts.nothrow ?? false })`${path.join(projectRoot, 'bin', 'tickvault.js')} ${runbook} ${args} --json`;
}

/** Start (or reuse) the local stack and return its env file values. */
export async function localStack(): Promise<Record<string, string>> {
  // `local up` on a running stack can fail while WAL archiving removes a file it is chowning (a race
  // in local/, reported); a second attempt finds the stack up.
  for (let attempt = 1; ; attempt++) {
    const up = await tickvault('local', ['up'], { nothrow: true });
    if (up.exitCode === 0) break;
    if (attempt === 3) throw new Error(`local up failed: ${up.stdout.trim().split('\n').at(-1)}`);
  }
  const { readEnvFile } = await import('../../runbooks/engine/config');
  const { localEnvFile } = await import('../../runbooks/engine/paths');
  return readEnvFile(localEnvFile());
}

export async function sql(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

export function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function recreateDb(url: string, db: string): Promise<string> {
  await sql(withDb(url, 'postgres'), `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await sql(withDb(url, 'postgres'), `CREATE DATABASE ${db}`);
  return withDb(url, db);
}

/** A data_bars table of `rows` rows (6 FX symbols, 1-minute bars), built in SQL. */
export async function createBars(url: string, rows: number): Promise<void> {
  const perSymbol = Math.ceil(rows / 6);
  await sql(url, `CREATE TABLE data_bars (
    canonical_symbol text NOT NULL, timeframe text NOT NULL, ts_utc timestamptz NOT NULL,
    open numeric(20,8) NOT NULL, high numeric(20,8) NOT NULL, low numeric(20,8) NOT NULL, close numeric(20,8) NOT NULL,
    vol numeric(24,8) NOT NULL, vwap numeric(20,8), trade_count integer NOT NULL, is_partial boolean NOT NULL,
    source text NOT NULL, ingested_at timestamptz NOT NULL, raw jsonb)`);
  await sql(url, `INSERT INTO data_bars
    SELECT s.sym, '1m', timestamptz '2025-01-01' + g * interval '1 minute',
           round((s.lvl * (1 + 0.01 * sin(g / 900.0)))::numeric, 5), round((s.lvl * (1.0002 + 0.01 * sin(g / 900.0)))::numeric, 5),
           round((s.lvl * (0.9998 + 0.01 * sin(g / 900.0)))::numeric, 5), round((s.lvl * (1 + 0.01 * sin((g + 1) / 900.0)))::numeric, 5),
           (g % 5000) + 100, NULL, g % 400, false, 'massive_api', timestamptz '2025-01-01' + g * interval '1 minute' + interval '61 s',
           jsonb_build_object('seq', g)
      FROM (VALUES ('EURUSD', 1.16), ('USDJPY', 152.0), ('GBPUSD', 1.33), ('USDCAD', 1.38), ('USDSEK', 9.5), ('USDCHF', 0.8)) AS s(sym, lvl),
           generate_series(1, ${perSymbol}) AS g
     LIMIT ${rows}`);
  await sql(url, 'ALTER TABLE data_bars ADD PRIMARY KEY (canonical_symbol, timeframe, ts_utc)');
  await sql(url, 'VACUUM ANALYZE data_bars');
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/**
 * Node's own start (`node -e 0`, median of 5) with this environment and without
 * NODE_EXTRA_CA_CERTS: every CLI run pays it before any of tickvault's code runs.
 */
export async function nodeStartMs(): Promise<{ ms: number; withoutExtraCaCertsMs: number }> {
  const median = async (env: NodeJS.ProcessEnv) => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) samples.push((await timed(() => $({ env })`${process.execPath} -e 0`)).ms);
    return Math.round(spread(samples).median);
  };
  const { NODE_EXTRA_CA_CERTS: _, ...withoutCerts } = process.env;
  return { ms: await median(process.env), withoutExtraCaCertsMs: await median(withoutCerts) };
}

export function saveResult(name: string, result: Record<string, unknown>): string {
  const dir = path.join(projectRoot, 'scripts', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2) + '\n');
  return file;
}

export const ratio = (ours: number, raw: number): string => (ours / raw).toFixed(2);

/**
 * A table shaped unlike the bars (issue #16): a uuid key, fixed-width char,
 * numerics without and with scale, jsonb and text, and a secondary index
 * (#16 measured its restore with one), built in SQL.
 */
export async function createMixed(url: string, rows: number): Promise<void> {
  await sql(url, `CREATE TABLE orders_mixed (
    id uuid PRIMARY KEY, account char(12) NOT NULL, amount numeric(18,6) NOT NULL, price numeric NOT NULL,
    qty integer NOT NULL, side char(1) NOT NULL, meta jsonb, note text, placed_at timestamptz NOT NULL)`);
  await sql(url, `INSERT INTO orders_mixed
    SELECT md5(g::text)::uuid, 'ACC' || lpad((g % 9973)::text, 9, '0'), round((g % 100000) * 1.000123, 6), (g % 7919) / 7.0,
           g % 1000, CASE WHEN g % 2 = 0 THEN 'B' ELSE 'S' END,
           jsonb_build_object('venue', 'X' || (g % 17), 'tags', jsonb_build_array(g % 3, g % 5), 'fee', (g % 97) / 100.0),
           CASE WHEN g % 10 = 0 THEN NULL ELSE 'order ' || g END, timestamptz '2025-01-01' + g * interval '1 second'
      FROM generate_series(1, ${rows}) AS g`);
  await sql(url, 'CREATE INDEX orders_mixed_account_placed ON orders_mixed (account, placed_at)');
  await sql(url, 'VACUUM ANALYZE orders_mixed');
}

/** Ticks into a TimescaleDB hypertable (1-day chunks), as seed 004's tick_data. */
export const HYPERTABLE_DDL = [
  'CREATE EXTENSION IF NOT EXISTS timescaledb',
  'CREATE TABLE tick_data (symbol text NOT NULL, ts timestamptz NOT NULL, price numeric(20,8) NOT NULL, size numeric(24,8) NOT NULL, PRIMARY KEY (symbol, ts))',
  "SELECT create_hypertable('public.tick_data', 'ts', chunk_time_interval => interval '1 day')",
];

export async function createTicks(url: string, rows: number): Promise<void> {
  for (const statement of HYPERTABLE_DDL) await sql(url, statement);
  const perSymbol = Math.ceil(rows / 4);
  await sql(url, `INSERT INTO tick_data
    SELECT s.sym, timestamptz '2025-01-01' + g * interval '1 second', round((s.lvl * (1 + 0.01 * sin(g / 900.0)))::numeric, 8), (g % 500) + 1
      FROM (VALUES ('EURUSD', 1.16), ('USDJPY', 152.0), ('GBPUSD', 1.33), ('BTCUSD', 91000.0)) AS s(sym, lvl), generate_series(1, ${perSymbol}) AS g
     LIMIT ${rows}`);
  await sql(url, 'ANALYZE tick_data');
}

/** Minimum and median of repeated samples. */
export function spread(xs: number[]): { min: number; median: number } {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return { min: sorted[0]!, median: sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2 };
}

/** A pairwise ratio (A_i / B_i per alternating pair) as min and median: drift of the machine cancels within a pair. */
export function pairRatio(ours: number[], raw: number[]): { min: number; median: number } {
  const r = spread(ours.map((o, i) => o / raw[i]!));
  return { min: Number(r.min.toFixed(2)), median: Number(r.median.toFixed(2)) };
}
