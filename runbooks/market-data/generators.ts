import { BTC_LEVEL, dxy, FX_PAIRS, type FxSymbol } from './instruments';
import { Prng } from './prng';
import type { SeedTable } from './schema';

/** Row counts at --scale 1 (seed 004's validation figures where it gives them). */
export const SCALE_1 = {
  minutes: 43_200, // 30 days of 1-minute bars per FX pair
  ticks: 804_800,
  users: 11,
  trades: 843,
  patterns: 7_011,
  signals: 1_500,
  atgeSignals: 600,
} as const;

export type Counts = Record<keyof typeof SCALE_1, number>;

export function countsFor(scale: number): Counts {
  const minimum: Counts = { minutes: 60, ticks: 100, users: 2, trades: 10, patterns: 10, signals: 10, atgeSignals: 10 };
  const out = {} as Counts;
  for (const key of Object.keys(SCALE_1) as (keyof Counts)[]) out[key] = Math.max(minimum[key], Math.round(SCALE_1[key] * scale));
  return out;
}

export interface GenContext {
  seed: number;
  counts: Counts;
  /** Exclusive end of the data window, minute-aligned. */
  end: Date;
}

const MINUTE = 60_000;
const windowStart = (ctx: GenContext): number => ctx.end.getTime() - ctx.counts.minutes * MINUTE;
const iso = (ms: number): string => new Date(ms).toISOString();

/** COPY text-format escaping; null becomes \N. */
export function copyValue(value: string | number | boolean | null): string {
  if (value === null) return '\\N';
  if (typeof value !== 'string') return String(value);
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Buffer rows into ~64 KiB chunks so COPY gets few, large writes. */
function* chunked(rows: Iterable<(string | number | boolean | null)[]>): Generator<string> {
  let buffer = '';
  for (const row of rows) {
    buffer += row.map(copyValue).join('\t') + '\n';
    if (buffer.length >= 65_536) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}

interface FxBar {
  open: number;
  high: number;
  low: number;
  close: number;
  vol: number;
  trades: number;
}

/** Mean-reverting log random walk per pair, one bar per minute. */
function* fxWalk(ctx: GenContext): Generator<{ ts: number; bars: Record<FxSymbol, FxBar> }> {
  const rngs = FX_PAIRS.map((p) => new Prng(ctx.seed, `fx:${p.symbol}`));
  const logLevel = FX_PAIRS.map((p) => Math.log(p.level));
  const current = [...logLevel];
  const start = windowStart(ctx);
  for (let i = 0; i < ctx.counts.minutes; i++) {
    const bars = {} as Record<FxSymbol, FxBar>;
    FX_PAIRS.forEach((pair, k) => {
      const rng = rngs[k]!;
      const open = current[k]!;
      const close = open + 0.00035 * rng.normal() - 0.002 * (open - logLevel[k]!);
      const wick = () => Math.abs(rng.normal()) * 0.00015;
      current[k] = close;
      const round = (x: number) => Number(Math.exp(x).toFixed(pair.decimals));
      const o = round(open);
      const c = round(close);
      bars[pair.symbol] = {
        open: o,
        close: c,
        high: Math.max(o, c, round(Math.max(open, close) + wick())),
        low: Math.min(o, c, round(Math.min(open, close) - wick())),
        vol: Math.round(200 + rng.next() * 5000),
        trades: rng.int(20, 400),
      };
    });
    yield { ts: start + i * MINUTE, bars };
  }
}

function* dataBars(ctx: GenContext) {
  for (const { ts, bars } of fxWalk(ctx)) {
    for (const pair of FX_PAIRS) {
      const b = bars[pair.symbol];
      const vwap = Number(((b.open + b.high + b.low + b.close) / 4).toFixed(pair.decimals + 2));
      yield [pair.symbol, '1m', iso(ts), b.open, b.high, b.low, b.close, b.vol, vwap, b.trades, false, 'massive_api', iso(ts + 61_500), iso(ts + 61_500)];
    }
  }
}

/** DXY 1m (open = high = low = close, as the seed's RPC writes it) and 5m aggregates. */
function* derivedBars(ctx: GenContext) {
  let bucket: number[] = [];
  let bucketStart = 0;
  for (const { ts, bars } of fxWalk(ctx)) {
    const closes = Object.fromEntries(FX_PAIRS.map((p) => [p.symbol, bars[p.symbol].close])) as Record<FxSymbol, number>;
    const value = Number(dxy(closes).toFixed(8));
    const stamp = iso(ts + 62_000);
    yield ['DXY', '1m', iso(ts), value, value, value, value, 0, null, 0, false, 'derived', stamp, stamp, stamp, null];
    if (bucket.length === 0) bucketStart = ts;
    bucket.push(value);
    if (bucket.length === 5) {
      const at = iso(bucketStart + 5 * MINUTE + 2_000);
      yield ['DXY', '5m', iso(bucketStart), bucket[0]!, Math.max(...bucket), Math.min(...bucket), bucket[4]!, 0, null, 0, false, 'derived', at, at, at, null];
      bucket = [];
    }
  }
}

function* assetRegistry(ctx: GenContext) {
  const at = iso(windowStart(ctx));
  for (const pair of FX_PAIRS) {
    yield [pair.symbol, 'fx', `${pair.symbol.slice(0, 3)}/${pair.symbol.slice(3)} spot`, true, true, JSON.stringify({ decimals: pair.decimals, dxy_weight: pair.weight }), at, at];
  }
  yield ['BTC-USD', 'crypto', 'Bitcoin / US dollar', true, false, JSON.stringify({ decimals: 2 }), at, at];
}

function* ticks(ctx: GenContext) {
  const rng = new Prng(ctx.seed, 'ticks');
  const start = windowStart(ctx);
  const spacing = (ctx.counts.minutes * MINUTE) / ctx.counts.ticks;
  const level = Math.log(BTC_LEVEL);
  let logPrice = level;
  let last = start - 1;
  for (let i = 0; i < ctx.counts.ticks; i++) {
    logPrice += 0.0004 * rng.normal() - 0.0005 * (logPrice - level);
    const ts = Math.max(last + 1, Math.floor(start + (i + rng.next()) * spacing));
    last = ts;
    const volume = Math.exp(rng.normal() * 1.2 - 4).toFixed(8);
    yield [i + 1, 'BTC-USD', iso(ts), Math.exp(logPrice).toFixed(2), volume, rng.next() < 0.5 ? 'buy' : 'sell', rng.pick(['coinbase', 'kraken', 'binance'])];
  }
}

/** User ids are regenerated from their own stream wherever they are referenced. */
export function userIds(ctx: GenContext): string[] {
  const rng = new Prng(ctx.seed, 'users');
  return Array.from({ length: ctx.counts.users }, () => rng.uuid());
}

const FIRST = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eun-ji', 'Farid', 'Grace', 'Hiro', 'Inès', 'Jonas', 'Kemal', 'Linh', 'Mateo', 'Nadia'];

function* users(ctx: GenContext) {
  const rng = new Prng(ctx.seed, 'users:profile');
  const start = windowStart(ctx) - 90 * 86_400_000;
  for (const [i, id] of userIds(ctx).entries()) {
    const name = `${rng.pick(FIRST)} ${String.fromCharCode(65 + (i % 26))}.`;
    yield [id, `trader${String(i + 1).padStart(3, '0')}@example.com`, name, rng.pick(['free', 'pro', 'pro', 'desk']), iso(start + rng.int(0, 80) * 86_400_000)];
  }
}

function* trades(ctx: GenContext) {
  const rng = new Prng(ctx.seed, 'trades');
  const ids = userIds(ctx);
  const start = windowStart(ctx);
  const span = ctx.counts.minutes * MINUTE;
  const symbols = ['BTC-USD', 'BTC-USD', 'EURUSD', 'USDJPY', 'GBPUSD'];
  for (let i = 0; i < ctx.counts.trades; i++) {
    const symbol = rng.pick(symbols);
    const entry = symbol === 'BTC-USD' ? BTC_LEVEL * (1 + 0.05 * rng.normal()) : 1 + rng.next();
    const side = rng.next() < 0.55 ? 'long' : 'short';
    const opened = start + Math.floor(rng.next() * span * 0.95);
    const closed = rng.next() < 0.85 ? opened + rng.int(5, 4000) * MINUTE : null;
    const exit = closed === null ? null : entry * (1 + 0.02 * rng.normal());
    const qty = symbol === 'BTC-USD' ? rng.int(1, 200) / 100 : rng.int(1, 50) * 1000;
    const pnl = exit === null ? null : ((exit - entry) * qty * (side === 'long' ? 1 : -1)).toFixed(2);
    yield [rng.uuid(), rng.pick(ids), symbol, side, qty.toFixed(8), entry.toFixed(2), exit === null ? null : exit.toFixed(2), iso(opened), closed === null ? null : iso(Math.min(closed, ctx.end.getTime() - 1)), pnl, closed === null ? 'open' : 'closed', rng.next() < 0.3 ? `setup: ${rng.pick(['breakout', 'mean reversion', 'news', 'trend'])}` : null];
  }
}

const PATTERNS = ['double_top', 'double_bottom', 'head_shoulders', 'bull_flag', 'bear_flag', 'ascending_triangle', 'engulfing', 'doji'];

function* patterns(ctx: GenContext) {
  const rng = new Prng(ctx.seed, 'patterns');
  const start = windowStart(ctx);
  const span = ctx.counts.minutes * MINUTE;
  for (let i = 0; i < ctx.counts.patterns; i++) {
    const symbol = rng.pick(['EURUSD=X', 'BTC-USD', 'AAPL', 'VN30F1M']);
    const payload = { window: rng.int(10, 200), strength: Number(rng.next().toFixed(3)), direction: rng.pick(['up', 'down']) };
    yield [i + 1, symbol, rng.pick(['5m', '15m', '1h', '4h']), rng.pick(PATTERNS), iso(start + Math.floor(rng.next() * span)), rng.next().toFixed(4), JSON.stringify(payload)];
  }
}

function* signals(ctx: GenContext) {
  const rng = new Prng(ctx.seed, 'signals');
  const start = windowStart(ctx);
  const span = ctx.counts.minutes * MINUTE;
  for (let i = 0; i < ctx.counts.signals; i++) {
    const created = start + Math.floor(((i + rng.next()) / ctx.counts.signals) * span);
    yield [i + 1, rng.pick(['EURUSD=X', 'BTC-USD', 'AAPL', 'VN30F1M']), rng.pick(['BUY', 'SELL', 'HOLD']), rng.next().toFixed(4), created > ctx.end.getTime() - 86_400_000 ? 'active' : 'closed', iso(created), JSON.stringify({ model: 'v1.9.3', horizon_min: rng.pick([15, 60, 240]) })];
  }
}

/** ATGE signals (seed 001): mostly BTC, with every status the mapping handles. */
function* atgeSignals(ctx: GenContext) {
  const rng = new Prng(ctx.seed, 'atge');
  const ids = userIds(ctx);
  const start = windowStart(ctx);
  const span = ctx.counts.minutes * MINUTE;
  const statuses = ['active', 'completed_success', 'completed_failure', 'expired', 'completed_success', 'pending_review'];
  for (let i = 0; i < ctx.counts.atgeSignals; i++) {
    const symbol = rng.next() < 0.85 ? 'BTC' : rng.pick(['ETH', 'SOL']);
    const entry = (symbol === 'BTC' ? BTC_LEVEL : 3000) * (1 + 0.04 * rng.normal());
    const sl = 0.01 + rng.next() * 0.04;
    const hours = rng.pick([1, 4, 24, 168]);
    const generated = start + Math.floor(rng.next() * span);
    yield [rng.uuid(), rng.pick(ids), symbol, entry.toFixed(2), (entry * 1.01).toFixed(2), '40.00', (entry * 1.02).toFixed(2), '30.00', (entry * 1.035).toFixed(2), '30.00', (entry * (1 - sl)).toFixed(2), (sl * 100).toFixed(3), `${hours}h`, hours, rng.int(55, 95), rng.next() < 0.8 ? 'Momentum and order-flow confluence' : null, rng.pick(statuses), iso(generated), iso(generated + hours * 3_600_000)];
  }
}

/** Each table's COPY text stream and its expected row count. */
export function tableSources(ctx: GenContext): Record<SeedTable, { rows: number; chunks: () => Iterable<string> }> {
  const c = ctx.counts;
  return {
    data_bars: { rows: c.minutes * FX_PAIRS.length, chunks: () => chunked(dataBars(ctx)) },
    derived_data_bars: { rows: c.minutes + Math.floor(c.minutes / 5), chunks: () => chunked(derivedBars(ctx)) },
    core_asset_registry_all: { rows: FX_PAIRS.length + 1, chunks: () => chunked(assetRegistry(ctx)) },
    tick_data: { rows: c.ticks, chunks: () => chunked(ticks(ctx)) },
    users: { rows: c.users, chunks: () => chunked(users(ctx)) },
    trades: { rows: c.trades, chunks: () => chunked(trades(ctx)) },
    pattern_cache: { rows: c.patterns, chunks: () => chunked(patterns(ctx)) },
    ai_signals: { rows: c.signals, chunks: () => chunked(signals(ctx)) },
    atge_trade_signals: { rows: c.atgeSignals, chunks: () => chunked(atgeSignals(ctx)) },
  };
}
