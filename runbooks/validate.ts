/**
 * Integrity checks as a report (seed 004's kinds).
 *   npx tsx runbooks/validate.ts [--database-url URL] [--source-url URL] [--json]
 */
import { runCli, stringFlag } from './engine/cli';
import { postgresUrl, validated } from './engine/config';
import { UsageError, VerificationError } from './engine/errors';
import type { Check } from './verify/integrity';

const usage = `
Usage: npx tsx runbooks/validate.ts [flags]

Runs integrity checks and prints a PASS/WARN/FAIL report:
  counts        users, trades, tick_data, … against --source-url (when given)
  foreign keys  every foreign key, checked for orphans
  freshness     DXY 1m: PASS < 5 min, WARN < 10 min, else FAIL (seed 003 phase 8); ticks
  ranges        DXY within 80-120; tick prices positive
  layout        tick_data time-partitioned (hypertable or native)
  embeddings    Qdrant points vs trades (QDRANT_URL; --collection, default trades)
Exit 3 when any check FAILs; WARN and SKIP do not fail the run.

  --database-url URL   the database to check (default DATABASE_URL)
  --source-url URL     compare counts with this source
  --tables t1,t2       tables for the count checks (default users,trades,tick_data,pattern_cache,atge_trade_signals)
  --qdrant-url URL     the Qdrant for the embeddings check (default QDRANT_URL)
  --collection C       its collection (default trades)
  --suite seed004      instead: seed 004's 17 checks after supabase-to-timescale (counts, foreign keys of
                       trades/journals/tags, hypertable, compression + policy + compressed chunks, the four
                       OHLCV aggregates: present, refresh policies, freshness, completeness; ticks; embeddings)
`;

await runCli({
  runbook: 'validate',
  usage,
  options: { 'database-url': { type: 'string' }, 'source-url': { type: 'string' }, tables: { type: 'string' }, collection: { type: 'string' }, 'qdrant-url': { type: 'string' }, suite: { type: 'string' } },
  async main({ run, flags, settings }) {
    // pg and the Qdrant client load here, so --help starts fast.
    const [{ connect }, { countChecks, embeddingChecks, foreignKeyChecks, freshnessChecks, layoutChecks, rangeChecks }] = await Promise.all([import('./stores/postgres/connect'), import('./verify/integrity')]);
    const url = validated('DATABASE_URL', postgresUrl, settings.require('DATABASE_URL', stringFlag(flags, 'database-url'), '--database-url'));
    const sourceUrl = stringFlag(flags, 'source-url');
    const tables = (stringFlag(flags, 'tables') ?? 'users,trades,tick_data,pattern_cache,atge_trade_signals').split(',').map((t) => `public.${t.trim().replace(/^public\./, '')}`);
    const qdrantUrl = settings.get('QDRANT_URL', stringFlag(flags, 'qdrant-url'));
    const suite = stringFlag(flags, 'suite');
    if (suite !== undefined && suite !== 'seed004') throw new UsageError(`--suite ${suite}: the only suite is seed004`);
    const db = await run.step('connect', () => connect(url), { readOnly: true });
    run.onCleanup(() => db.end());
    const checks: Check[] = [];
    if (suite === 'seed004') {
      const { SEED004_CHECKS, seed004Checks } = await import('./validate/seed004');
      await run.step(`seed 004: ${SEED004_CHECKS} checks`, async (step) => {
        const source = sourceUrl ? await connect(validated('--source-url', postgresUrl, sourceUrl), '--source-url') : undefined;
        try {
          checks.push(...(await seed004Checks(db, { source, qdrant: qdrantUrl ? { url: qdrantUrl, apiKey: settings.get('QDRANT_API_KEY') } : undefined, collection: stringFlag(flags, 'collection') ?? 'trades' })));
        } finally {
          await source?.end();
        }
        step.note(`${checks.length} checks`);
      }, { readOnly: true });
    } else await run.step('run checks', async (step) => {
      if (sourceUrl) {
        const source = await connect(validated('--source-url', postgresUrl, sourceUrl), '--source-url');
        try {
          checks.push(...(await countChecks(source, db, tables)));
        } finally {
          await source.end();
        }
      }
      checks.push(...(await foreignKeyChecks(db)), ...(await freshnessChecks(db, new Date())), ...(await rangeChecks(db)), ...(await layoutChecks(db)));
      checks.push(...(await embeddingChecks(db, qdrantUrl ? { url: qdrantUrl, apiKey: settings.get('QDRANT_API_KEY') } : undefined, stringFlag(flags, 'collection') ?? 'trades')));
      step.note(`${checks.length} checks`);
    }, { readOnly: true });
    for (const c of checks) run.info(`${c.verdict.padEnd(5)} ${c.group.padEnd(13)} ${c.name.padEnd(44)} ${c.detail}`);
    const tally = { PASS: 0, WARN: 0, FAIL: 0, SKIP: 0 };
    for (const c of checks) tally[c.verdict]++;
    run.report({ checks, ...tally });
    if (tally.FAIL) throw new VerificationError(`${tally.FAIL} of ${checks.length} checks failed`);
    return {};
  },
});
