/**
 * Phased data migrations.
 *   npx tsx runbooks/migrate.ts plans
 *   npx tsx runbooks/migrate.ts run --plan ID (--phase P | --all) [--database-url URL | --source-url URL --target-url URL] [--table s.t] [--safety-window 24h] [--yes] [--json]
 *   npx tsx runbooks/migrate.ts rollback --plan ID [--yes]
 *   npx tsx runbooks/migrate.ts status --plan ID
 */
// Only what --help needs is imported here; the engine and the plans (pg, zx,
// zod) load inside main, so `tickvault migrate --help` starts fast.
import { numberFlag, runCli, stringFlag } from './engine/cli';
import { postgresUrl, validated } from './engine/config';
import { durationFlag } from './engine/duration';
import { UsageError } from './engine/errors';
import { PHASES, type EngineSettings, type PhaseId } from './migrations/plan';

/** Flags that are a plan's own options (checked by that plan's schema), by option name. */
const PLAN_FLAGS = { table: 'table', sqlite: 'sqlite', 'json-dir': 'jsonDir' } as const;

const usage = `
Usage: npx tsx runbooks/migrate.ts <plans|run|rollback|status|watch> [flags]

  plans                      the plans and their phases
  run --plan ID --all        every phase in order (completed ones are no-ops)
  run --plan ID --phase P    one phase (earlier phases must be done)
  rollback --plan ID         undo every phase that ran, newest first (asks; --yes)
  status --plan ID           where the migration stands, from its journal; with change
                             capture its lag and every replication slot holding WAL
  watch --plan ID            during the dual-write window, re-check parity every
                             --interval (default 5m) until --safety-window has passed
                             (or --checks N); a failed check exits 3. With change
                             capture: the backlog each check finds (bytes, seconds,
                             pending changes), a warning when it grew since the
                             previous check

  --database-url URL     the one database of a single-database plan (default DATABASE_URL)
  --source-url URL       source database of a two-database plan (default --database-url)
  --target-url URL       target database, where the journal lives (default --database-url)
  --table schema.name    copy-table: the table (also the run's scope: journal, lock, ledger)
  --safety-window 24h    time after dual-write before cleanup may run (default 24h; 0 for none)
  --env-from SRC         also snapshot environment variables in the backup phase
                         (dotenv:PATH, json:PATH, env:PREFIX); rollback restores them
  --env-service NAME     service name for that snapshot (default: the plan id)
  --sqlite PATH          sqlite-price-log: btc_price_history.db
  --json-dir DIR         sqlite-price-log: the ETH JSON snapshots
  --jobs N               parallel workers (default 2)
  --interval 5m          watch: time between parity checks
  --checks N             watch: stop after N checks

--dry-run runs the preflight checks for real (read-only: a READ ONLY
transaction, nothing journaled) and prints the remaining phases as the plan.
status and run --all name the time from which cleanup is allowed; inside
the safety window run --all stops before cleanup with exit 0.

Each phase runs in one transaction committed with its journal entry, or is
idempotent; a killed run is finished by running it again. Cleanup always
waits for --safety-window after dual-write and a fresh parity check.
Phases: ${PHASES.join(', ')}
`;

await runCli({
  runbook: 'migrate',
  usage,
  commands: ['plans', 'run', 'rollback', 'status', 'watch'] as const,
  readOnlyCommands: ['plans', 'status'],
  options: {
    plan: { type: 'string' },
    phase: { type: 'string' },
    all: { type: 'boolean', default: false },
    'database-url': { type: 'string' },
    'source-url': { type: 'string' },
    'target-url': { type: 'string' },
    table: { type: 'string' },
    'safety-window': { type: 'string' },
    'env-from': { type: 'string' },
    'env-service': { type: 'string' },
    sqlite: { type: 'string' },
    'json-dir': { type: 'string' },
    jobs: { type: 'string' },
    interval: { type: 'string' },
    checks: { type: 'string' },
  },
  async main({ run, command, flags, settings }) {
    const { findPlan, PLANS } = await import('./migrations/plans');
    if (command === 'plans') {
      // A phase marked * runs in one transaction with its journal entry; the others are idempotent.
      for (const p of PLANS) run.info(`${p.id.padEnd(22)} ${p.source.padEnd(9)} ${p.title}\n${' '.repeat(34)}${p.phases.map((x) => `${x.id}${x.transaction ? '*' : ''}`).join(' → ')}`);
      run.info('* = runs in one transaction with its journal entry; the other phases are idempotent');
      return { figures: { plans: PLANS.map((p) => ({ id: p.id, title: p.title, source: p.source, crossDatabase: p.crossDatabase, phases: p.phases.map((x) => x.id), transactional: p.phases.filter((x) => x.transaction).map((x) => x.id) })) } };
    }
    const { planOptions, planStatus, rollbackPlan, runPlan, watchParity } = await import('./migrations/engine');
    const plan = findPlan(stringFlag(flags, 'plan'));
    const databaseUrl = stringFlag(flags, 'database-url') ?? settings.get('DATABASE_URL');
    const urlFlag = stringFlag(flags, 'database-url') ? '--database-url' : '--source-url';
    const sourceUrl = validated(stringFlag(flags, 'source-url') ? '--source-url' : urlFlag, postgresUrl, stringFlag(flags, 'source-url') ?? databaseUrl ?? settings.require('DATABASE_URL', undefined, '--database-url'));
    const targetUrl = validated(stringFlag(flags, 'target-url') ? '--target-url' : urlFlag, postgresUrl, stringFlag(flags, 'target-url') ?? databaseUrl ?? sourceUrl);
    const engine: EngineSettings = {
      sourceUrl,
      targetUrl,
      safetyWindowMs: durationFlag('safety-window', stringFlag(flags, 'safety-window'), '24h'),
      jobs: numberFlag(flags, 'jobs', 2),
      backup: { config: settings, envFrom: stringFlag(flags, 'env-from'), envService: stringFlag(flags, 'env-service') },
    };
    const raw = Object.fromEntries(Object.entries(PLAN_FLAGS).flatMap(([flag, key]) => (stringFlag(flags, flag) === undefined ? [] : [[key, stringFlag(flags, flag)]])));
    const options = planOptions(plan, raw);
    if (command === 'status') {
      const { scope, phases } = await run.step('read journal', () => planStatus(run, plan, options, engine), { readOnly: true });
      for (const p of phases) run.info(`${p.phase.padEnd(12)} ${p.state.padEnd(20)} ${p.at ?? ''}`);
      const cleanup = await statusCleanup(run, plan.phases.some((p) => p.id === 'cleanup'), phases, engine.safetyWindowMs);
      const capture = plan.crossDatabase ? await run.step('read change capture', async () => (await import('./migrations/cdc/status')).captureStatus(plan.id, scope, sourceUrl, targetUrl), { readOnly: true }) : undefined;
      if (capture) (await import('./migrations/cdc/print')).printCapture(run, capture);
      const readers = plan.crossDatabase ? await run.step('read reader switch', async () => (await import('./migrations/reader-switch')).readerSwitchStatus(plan.id, scope, targetUrl), { readOnly: true }) : undefined;
      if (readers) run.info(readers.switched ? `readers switched: ${readers.key}=${readers.value} in ${readers.vault}, service ${readers.service}, version ${readers.versionId}${readers.live ? ` and ${readers.live}` : ''} (was ${readers.previous ?? 'absent'})` : `readers NOT switched: ${readers.reason}`);
      return { figures: { plan: plan.id, scope, phases, ...(cleanup ? { cleanup } : {}), ...(capture ?? {}), ...(readers ? { readers } : {}) } };
    }
    if (command === 'watch') {
      const intervalMs = durationFlag('interval', stringFlag(flags, 'interval'), '5m');
      const checks = stringFlag(flags, 'checks') ? numberFlag(flags, 'checks', 1) : undefined;
      return { figures: { plan: plan.id, ...(await watchParity(run, plan, options, engine, { intervalMs, ...(checks ? { checks } : {}) })) } };
    }
    if (command === 'rollback') return { figures: { plan: plan.id, ...(await rollbackPlan(run, plan, options, engine)) } };
    const phase = stringFlag(flags, 'phase') as PhaseId | undefined;
    if (phase && !PHASES.includes(phase)) throw new UsageError(`--phase must be one of ${PHASES.join(', ')}`);
    if (phase && flags.all) throw new UsageError('--phase and --all exclude each other');
    const result = await runPlan(run, plan, options, engine, { all: Boolean(flags.all), ...(phase ? { phase } : {}) });
    // A table copy's summary says what the target did not get (notCarried) and what the copy created.
    const table = typeof raw.table === 'string' ? raw.table : undefined;
    const copy = table && !run.dryRun ? await (await import('./migrations/copy/summary')).copySummary(engine.targetUrl, plan.id, table) : undefined;
    return { figures: { plan: plan.id, ...result, ...(copy ?? {}) } };
  },
});

/** status: the absolute time from which cleanup is allowed (dual-write's end + the safety window). */
async function statusCleanup(run: { info(message: string): void }, hasCleanup: boolean, phases: { phase: PhaseId; state: string; at: string | null }[], windowMs: number) {
  if (!hasCleanup) return undefined;
  const { cleanupSchedule, describeSchedule } = await import('./migrations/safety-window');
  const dualWrite = phases.find((p) => p.phase === 'dual-write');
  const ended = dualWrite?.state === 'done' && dualWrite.at ? new Date(dualWrite.at) : undefined;
  const schedule = cleanupSchedule(ended, phases.find((p) => p.phase === 'cleanup')?.state === 'done', windowMs);
  run.info(describeSchedule(schedule));
  return schedule;
}
