/**
 * Phased data migrations.
 *   npx tsx runbooks/migrate.ts plans
 *   npx tsx runbooks/migrate.ts run --plan ID (--phase P | --all) [--source-url URL] [--target-url URL] [--table s.t] [--safety-window 24h] [--yes] [--json]
 *   npx tsx runbooks/migrate.ts rollback --plan ID [--yes]
 *   npx tsx runbooks/migrate.ts status --plan ID
 */
import { numberFlag, runCli, stringFlag } from './engine/cli';
import { postgresUrl, validated } from './engine/config';
import { UsageError } from './engine/errors';
import { parseDuration } from './engine/format';
import { planStatus, rollbackPlan, runPlan, watchParity } from './migrations/engine';
import { PHASES, type PhaseId, type PlanOptions } from './migrations/plan';
import { findPlan, PLANS } from './migrations/plans';

const usage = `
Usage: npx tsx runbooks/migrate.ts <plans|run|rollback|status|watch> [flags]

  plans                      the plans and their phases
  run --plan ID --all        every phase in order (completed ones are no-ops)
  run --plan ID --phase P    one phase (earlier phases must be done)
  rollback --plan ID         undo every phase that ran, newest first (asks; --yes)
  status --plan ID           where the migration stands, from its journal
  watch --plan ID            during the dual-write window, re-check parity every
                             --interval (default 5m) until --safety-window has passed
                             (or --checks N); a failed check exits 3

  --source-url URL       source database (default DATABASE_URL)
  --target-url URL       target database, where the journal lives (default DATABASE_URL)
  --table schema.name    copy-table: the table
  --safety-window 24h    time after dual-write before cleanup may run (default 24h)
  --env-from SRC         also snapshot environment variables in the backup phase
                         (dotenv:PATH, json:PATH, env:PREFIX); rollback restores them
  --env-service NAME     service name for that snapshot (default: the plan id)
  --sqlite PATH          sqlite-price-log: btc_price_history.db
  --json-dir DIR         sqlite-price-log: the ETH JSON snapshots
  --jobs N               parallel workers (default 2)
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
    if (command === 'plans') {
      for (const p of PLANS) run.info(`${p.id.padEnd(22)} ${p.source.padEnd(9)} ${p.title}\n${' '.repeat(34)}${p.phases.map((x) => x.id).join(' → ')}`);
      return { figures: { plans: PLANS.map((p) => ({ id: p.id, title: p.title, source: p.source, crossDatabase: p.crossDatabase, phases: p.phases.map((x) => x.id) })) } };
    }
    const plan = findPlan(stringFlag(flags, 'plan'));
    const databaseUrl = settings.get('DATABASE_URL');
    const sourceUrl = validated('--source-url', postgresUrl, stringFlag(flags, 'source-url') ?? databaseUrl ?? settings.require('DATABASE_URL', undefined, '--source-url'));
    const targetUrl = validated('--target-url', postgresUrl, stringFlag(flags, 'target-url') ?? databaseUrl ?? sourceUrl);
    let safetyWindowMs: number;
    try {
      safetyWindowMs = parseDuration(stringFlag(flags, 'safety-window') ?? '24h');
    } catch (error) {
      throw new UsageError(`--safety-window: ${(error as Error).message}`);
    }
    const options: PlanOptions = {
      sourceUrl,
      targetUrl,
      safetyWindowMs,
      jobs: numberFlag(flags, 'jobs', 2),
      backupEnv: settings.get('TICKVAULT_ENV') ?? 'default',
      repoEnv: { S3_ENDPOINT: settings.get('S3_ENDPOINT'), AWS_REGION: settings.get('AWS_REGION'), AWS_ACCESS_KEY_ID: settings.get('AWS_ACCESS_KEY_ID'), AWS_SECRET_ACCESS_KEY: settings.get('AWS_SECRET_ACCESS_KEY') },
      ...(settings.get('BACKUP_REPO') ? { backupRepo: settings.get('BACKUP_REPO') } : {}),
      ...(stringFlag(flags, 'table') ? { table: stringFlag(flags, 'table') } : {}),
      ...(stringFlag(flags, 'env-from') ? { envFrom: stringFlag(flags, 'env-from') } : {}),
      ...(stringFlag(flags, 'env-service') ? { envService: stringFlag(flags, 'env-service') } : {}),
      ...(stringFlag(flags, 'sqlite') ? { sqlitePath: stringFlag(flags, 'sqlite') } : {}),
      ...(stringFlag(flags, 'json-dir') ? { jsonDir: stringFlag(flags, 'json-dir') } : {}),
    };
    if (command === 'status') {
      const phases = await run.step('read journal', () => planStatus(run, plan, options), { readOnly: true });
      for (const p of phases) run.info(`${p.phase.padEnd(12)} ${p.state.padEnd(20)} ${p.at ?? ''}`);
      return { figures: { plan: plan.id, phases } };
    }
    if (command === 'watch') {
      let intervalMs: number;
      try {
        intervalMs = parseDuration(stringFlag(flags, 'interval') ?? '5m');
      } catch (error) {
        throw new UsageError(`--interval: ${(error as Error).message}`);
      }
      const checks = stringFlag(flags, 'checks') ? numberFlag(flags, 'checks', 1) : undefined;
      return { figures: { plan: plan.id, ...(await watchParity(run, plan, options, { intervalMs, ...(checks ? { checks } : {}) })) } };
    }
    if (command === 'rollback') return { figures: { plan: plan.id, ...(await rollbackPlan(run, plan, options)) } };
    const phase = stringFlag(flags, 'phase') as PhaseId | undefined;
    if (phase && !PHASES.includes(phase)) throw new UsageError(`--phase must be one of ${PHASES.join(', ')}`);
    if (phase && flags.all) throw new UsageError('--phase and --all exclude each other');
    const result = await runPlan(run, plan, options, { all: Boolean(flags.all), ...(phase ? { phase } : {}) });
    return { figures: { plan: plan.id, ...result } };
  },
});
