import type { Redis } from 'ioredis';
import { FX_PAIRS, SNAPSHOT_SYMBOLS } from './instruments';
import { Prng } from './prng';

/**
 * Seed 000's SSOT cache shape: one `market:snapshot:<symbol>` hash per asset
 * that the scanner refreshes, recent 1m bars as JSON strings, and a sorted
 * set of last-update times. Deterministic for a given seed and end time.
 */
export async function seedRedisSnapshots(redis: Redis, opts: { seed: number; scale: number; end: Date }): Promise<number> {
  const rng = new Prng(opts.seed, 'redis');
  const symbols = [...SNAPSHOT_SYMBOLS, ...FX_PAIRS.map((p) => p.symbol)];
  const barsPerSymbol = Math.max(10, Math.round(400 * opts.scale));
  const endMinute = Math.floor(opts.end.getTime() / 60_000) - 1;
  let keys = 0;
  let pipe = redis.pipeline();
  for (const symbol of symbols) {
    const price = 1 + rng.next() * 100;
    pipe.hset(`market:snapshot:${symbol}`, {
      symbol,
      price: price.toFixed(5),
      change_pct: (rng.normal() * 0.8).toFixed(3),
      ts: new Date(endMinute * 60_000).toISOString(),
      source: 'scanner',
    });
    pipe.zadd('market:last_update', endMinute * 60, symbol);
    keys++;
    for (let i = 0; i < barsPerSymbol; i++) {
      const minute = endMinute - i;
      const close = price * (1 + 0.001 * rng.normal());
      pipe.set(`bar:1m:${symbol}:${minute}`, JSON.stringify({ t: minute * 60, c: Number(close.toFixed(5)), v: rng.int(1, 900) }));
      keys++;
      if (keys % 1000 === 0) {
        await pipe.exec();
        pipe = redis.pipeline();
      }
    }
  }
  await pipe.exec();
  return keys + 1; // + market:last_update
}
