/** The six DXY components, at levels that put the index near 100. */
export const FX_PAIRS = [
  { symbol: 'EURUSD', level: 1.16, decimals: 5, weight: -0.576 },
  { symbol: 'USDJPY', level: 152.0, decimals: 3, weight: 0.136 },
  { symbol: 'GBPUSD', level: 1.33, decimals: 5, weight: -0.119 },
  { symbol: 'USDCAD', level: 1.38, decimals: 5, weight: 0.091 },
  { symbol: 'USDSEK', level: 9.5, decimals: 4, weight: 0.042 },
  { symbol: 'USDCHF', level: 0.8, decimals: 5, weight: 0.036 },
] as const;

export type FxSymbol = (typeof FX_PAIRS)[number]['symbol'];

/** ICE's DXY constant, as in seed 003's calc_dxy_range_1m. */
export const DXY_CONSTANT = 50.14348112;

/** DXY from the six closes: 50.14348112 × Π pairᵂ. */
export function dxy(closes: Record<FxSymbol, number>): number {
  let logSum = Math.log(DXY_CONSTANT);
  for (const pair of FX_PAIRS) logSum += pair.weight * Math.log(closes[pair.symbol]);
  return Math.exp(logSum);
}

export const BTC_LEVEL = 95_000;

/** Seed 000's monitored assets (Yahoo-style symbols) for Redis snapshots. */
export const SNAPSHOT_SYMBOLS = ['EURUSD=X', 'BTC-USD', 'AAPL', 'VN30F1M'] as const;
