/**
 * Deterministic market data shaped like the seeds.
 *   npx tsx runbooks/seed.ts [--database-url URL] [--redis-url URL] [--scale N] [--seed S]
 */
// The generator, pg and ioredis load inside main, so --help starts fast.
import { numberFlag, runCli, scaleFlag, stringFlag } from './engine/cli';
import { postgresUrl, redisUrl, validated } from './engine/config';
import { ConfigError, UsageError } from './engine/errors';

/** market-data/seed.ts's DEFAULT_END, spelled here for --help (a unit test holds them equal). */
const HELP_DEFAULT_END = '2026-01-18T00:00:00.000Z';

const usage = `
Usage: npx tsx runbooks/seed.ts [flags]

Creates and fills, through COPY, the tables the seed documents describe:
data_bars (6 FX pairs, 1-minute bars), derived_data_bars (DXY 1m/5m),
core_asset_registry_all, tick_data (BTC ticks), users, trades,
pattern_cache, ai_signals, atge_trade_signals. Same --seed, same content.

  --database-url URL   target database (default: DATABASE_URL)
  --redis-url URL      also write market-snapshot keys to this Redis
  --scale N            in (0, 100]; 1 = seed 004's scale: 804,800 ticks, 11 users,
                       843 trades, 7,011 patterns, 30 days of bars (default 0.1)
  --seed S             PRNG seed (default 42)
  --end ISO|now        end of the data window (default ${HELP_DEFAULT_END})
  --reset              drop existing seed tables first (asks; --yes to skip)
  --jobs N             parallel COPY connections (default 2)
  --legacy-dir DIR     also write seed 002's legacy sources there: a SQLite
                       btc_price_history.db and ETH JSON snapshots

Refuses (exit 4) when the seed tables already exist and --reset is not given.
`;

await runCli({
  runbook: 'seed',
  usage,
  options: {
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    scale: { type: 'string' },
    seed: { type: 'string' },
    end: { type: 'string' },
    reset: { type: 'boolean', default: false },
    jobs: { type: 'string' },
    'legacy-dir': { type: 'string' },
  },
  async main({ run, flags, settings }) {
    const databaseUrl = validated('DATABASE_URL', postgresUrl, settings.require('DATABASE_URL', stringFlag(flags, 'database-url'), '--database-url'));
    const [{ Redis }, { withEnvAuth }, { DEFAULT_END, seedDatabase }, { seedRedisSnapshots }] = await Promise.all([import('ioredis'), import('./stores/redis/connect'), import('./market-data/seed'), import('./market-data/redis-snapshot')]);
    const scale = scaleFlag(flags, 0.1);
    const seed = Math.trunc(numberFlag(flags, 'seed', 42));
    const endFlag = stringFlag(flags, 'end');
    const end = endFlag === undefined ? DEFAULT_END : endFlag === 'now' ? new Date() : new Date(endFlag);
    if (Number.isNaN(end.getTime())) throw new UsageError(`--end must be an ISO timestamp or "now", got "${endFlag}"`);
    end.setUTCSeconds(0, 0);
    const redisFlag = stringFlag(flags, 'redis-url');
    if (redisFlag) validated('--redis-url', redisUrl, redisFlag);

    const result = await seedDatabase(run, { databaseUrl, scale, seed, end, reset: Boolean(flags.reset), jobs: numberFlag(flags, 'jobs', 2) });
    let redisKeys: number | undefined;
    if (redisFlag) {
      redisKeys = await run.step('redis market snapshots', async (step) => {
        const redis = new Redis(withEnvAuth(redisFlag), { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
        redis.on('error', () => undefined);
        try {
          await redis.connect().catch((error: Error) => {
            throw new ConfigError(`--redis-url: cannot connect: ${error.message}`);
          });
          const keys = await seedRedisSnapshots(redis, { seed, scale, end });
          step.note(`${keys} keys`);
          return keys;
        } finally {
          redis.disconnect();
        }
      });
    }
    const legacyDir = stringFlag(flags, 'legacy-dir');
    const legacy = legacyDir
      ? await run.step('legacy SQLite and JSON price logs', async () => (await import('./market-data/legacy-sources')).writeLegacyPriceSources(legacyDir, { seed, rows: Math.max(100, Math.round(20_000 * scale)), end }))
      : undefined;
    return { figures: { scale, seed, legacy, end: end.toISOString(), rows: result.rows, counts: result.counts, contentHash: result.contentHash, tables: result.fingerprints, redisKeys } };
  },
});
