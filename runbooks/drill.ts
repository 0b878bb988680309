/**
 * The disaster-recovery drill on its own embedded local stack.
 *   npx tsx runbooks/drill.ts [--scale 0.1] [--keep] [--json]
 */
import path from 'node:path';
import { runCli, scaleFlag, stringFlag } from './engine/cli';
import { readEnvFile } from './engine/config';
import { VerificationError } from './engine/errors';
import { projectRoot, stateRoot } from './engine/paths';
import type { Invocation } from './recovery/drill/invoke';
import type { DrillEnv } from './recovery/drill/scenarios';
import type { DrillReport, ScenarioResult } from './recovery/drill/types';

// The drill's machinery (pg, zx, ioredis) loads when it runs, so --help and --dry-run start fast.
const loadDrill = async () => ({
  ...(await import('./recovery/drill/invoke')),
  ...(await import('./recovery/drill/rehearsal')),
  ...(await import('./recovery/drill/report')),
  ...(await import('./recovery/drill/scenarios')),
  ...(await import('./recovery/drill/timescale')),
  ...(await import('./stores/postgres/timescale')),
  ...(await import('./local/service-user')),
});

const usage = `
Usage: npx tsx runbooks/drill.ts [flags]

Starts a separate local stack (under .tickvault/drill/, so your own local
stack is never harmed), seeds market data, backs up every store, then
inflicts four disasters and recovers from each with the restore runbook:

  1. a table dropped            → logical restore in place      (deletion: RTO 1h, RPO 24h)
  2. rows deleted at a known time → point-in-time recovery       (corruption: RTO 2h, RPO 1h)
  3. Redis wiped                → RDB restore in place           (deletion)
  4. the data directory lost    → pgBackRest restore + all WAL   (full failure: RTO 4h, RPO 1h)

With TimescaleDB installed and preloaded, tick_data is first made a
compressed hypertable with four continuous aggregates and their policies;
every PostgreSQL disaster's check then covers chunks, compressed chunks,
aggregates and jobs, and the report names the TimescaleDB version.

Before the disasters it rehearses every migration plan: forward through all
phases on a copy of the seeded database, then rolled back, comparing content
hashes.

Writes reports/drill-<run>/report.{md,json,html}; exit 3 if any scenario fails.

  --scale N        seed scale, in (0, 100] as for seed (default 0.1)
  --keep           leave the drill stack running afterwards
  --report-dir D   where to write the reports (default reports/drill-<run>)
`;

const DRY_RUN_PLAN: [string, string][] = [
  ['start the drill stack', 'PostgreSQL (WAL archived by pgBackRest), Redis and s3rver under .tickvault/drill/'],
  ['seed market data', 'seed.ts --scale N --end now, plus Redis snapshot keys and legacy SQLite/JSON sources'],
  ['TimescaleDB: tick_data → compressed hypertable with 1m/5m/1h/1d continuous aggregates', 'only when the drill server can create the extension'],
  ['back up every store', 'backup.ts all, then backup.ts postgres --kind physical'],
  ['migration rehearsal: every plan forward, then rolled back', 'on a copy of the seeded database; content hashes compared'],
  ['disaster 1: drop a table', 'DROP TABLE trades → restore.ts postgres --latest --in-place'],
  ['disaster 2: delete rows, recover to just before', 'DELETE ticks → restore.ts postgres --to-time (pgBackRest PITR)'],
  ['disaster 3: wipe Redis', 'FLUSHALL → restore.ts redis --latest --in-place'],
  ['disaster 4: lose the PostgreSQL data directory', 'kill postgres, delete PGDATA → restore.ts postgres --kind physical --latest'],
  ['write the reports', 'reports/drill-<run>/report.{md,json,html}; the drill stack is stopped and purged unless --keep'],
];

await runCli({
  runbook: 'drill',
  usage,
  options: { scale: { type: 'string' }, keep: { type: 'boolean', default: false }, 'report-dir': { type: 'string' } },
  async main({ run, flags }) {
    const scale = scaleFlag(flags, 0.1);
    const home = path.join(stateRoot(), 'drill');
    // The plan is the run's steps: each starts as "step N of M".
    run.expectSteps(DRY_RUN_PLAN.length);
    if (run.dryRun) {
      // The plan only: nothing is started, seeded or harmed.
      for (const [name, detail] of DRY_RUN_PLAN) await run.step(name, async () => undefined, { detail });
      return { figures: { planned: DRY_RUN_PLAN.length, home } };
    }
    const { invokeRunbook, legacyDirOf, NOT_REHEARSED, rehearseMigrations, writeReports, deletedRows, droppedTable, lostDataDirectory, wipedRedis, timescaleTicks, describeInventory, serviceUser } = await loadDrill();
    const env = { TICKVAULT_HOME: home, TICKVAULT_ENV: 'drill' };
    const started = new Date();
    const backups: Invocation[] = [];
    const scenarios: ScenarioResult[] = [];
    const skipped: string[] = [];
    const must = (inv: Invocation, what: string): Invocation => {
      if (inv.exitCode !== 0) throw new Error(`${what} failed (exit ${inv.exitCode}): ${inv.summary.error?.message ?? 'see its audit log'}`);
      return inv;
    };

    await run.step('start the drill stack', async (step) => {
      must(await invokeRunbook('local', ['up'], env), 'local.ts up');
      step.note(home);
    });
    if (!flags.keep) {
      run.onCleanup(async () => {
        await invokeRunbook('local', ['down', '--purge', '--yes'], env);
      });
    }
    const local = readEnvFile(path.join(home, 'local', 'env'));
    const drillEnv: DrillEnv = {
      env,
      databaseUrl: local.DATABASE_URL!,
      redisUrl: local.REDIS_URL!,
      dataDir: path.join(home, 'local', 'postgres', 'data'),
      serviceUserPrefix: (await serviceUser()).prefix,
      timescale: null,
    };
    run.masker.addUrl(drillEnv.databaseUrl).addUrl(drillEnv.redisUrl);

    await run.step('seed market data', async (step) => {
      const seeded = must(await invokeRunbook('seed', ['--scale', String(scale), '--end', 'now', '--reset', '--yes', '--redis-url', drillEnv.redisUrl, '--legacy-dir', legacyDirOf(home)], env), 'seed');
      step.note(`${Number(seeded.summary.rows).toLocaleString('en-US')} rows, ${seeded.summary.redisKeys} Redis keys`);
    });
    const timescale = await run.step('TimescaleDB: tick_data → compressed hypertable with 1m/5m/1h/1d continuous aggregates', async (step) => {
      const inventory = await timescaleTicks(drillEnv.databaseUrl);
      if (!inventory) {
        skipped.push('TimescaleDB: not installed and preloaded here, so tick_data stays a plain table (see README "TimescaleDB")');
        step.note('TimescaleDB not available: skipped');
        return null;
      }
      step.note(describeInventory(inventory));
      return { version: inventory.version, layout: describeInventory(inventory) };
    });
    drillEnv.timescale = timescale?.version ?? null;
    await run.step('back up every store', async (step) => {
      backups.push(must(await invokeRunbook('backup', ['all'], env), 'backup all'));
      backups.push(must(await invokeRunbook('backup', ['postgres', '--kind', 'physical'], env), 'physical backup'));
      step.note(backups.flatMap((b) => (b.summary.ids as string[]) ?? []).join(', '));
    });
    if (!process.env.QDRANT_URL) skipped.push('Qdrant: no QDRANT_URL (no Qdrant server on this machine)');
    for (const [plan, why] of Object.entries(NOT_REHEARSED)) skipped.push(`migration rehearsal of ${plan}: ${why}`);

    const rehearsals = await run.step('migration rehearsal: every plan forward, then rolled back', async (step) => {
      const legacy = legacyDirOf(home);
      const results = await rehearseMigrations(drillEnv.databaseUrl, env, { sqlite: path.join(legacy, 'btc_price_history.db'), jsonDir: path.join(legacy, 'snapshots') });
      step.note(results.map((r) => `${r.plan} ${r.passed ? 'PASS' : 'FAIL'}`).join(', '));
      for (const r of results.filter((x) => !x.passed)) run.warn(`rehearsal of ${r.plan} failed: ${r.error}`);
      return results;
    });

    for (const [label, scenario] of [
      ['disaster 1: drop a table', droppedTable],
      ['disaster 2: delete rows, recover to just before', deletedRows],
      ['disaster 3: wipe Redis', wipedRedis],
      ['disaster 4: lose the PostgreSQL data directory', lostDataDirectory],
    ] as const) {
      const result = await run.step(label, async (step) => {
        let r: ScenarioResult;
        try {
          r = await scenario(drillEnv);
        } catch (error) {
          r = { name: label, scenario: 'corruption', disaster: label, recovery: '-', passed: false, checks: [], error: (error as Error).message };
        }
        (r.passed ? step.note : step.fail)(`${r.passed ? 'PASS' : 'FAIL'}${r.rtoMs != null ? ` · RTO ${(r.rtoMs / 1000).toFixed(1)} s` : ''}${r.rpoMs != null ? ` · RPO ${(r.rpoMs / 1000).toFixed(1)} s` : ''}`);
        return r;
      });
      scenarios.push(result);
      if (!result.passed) run.warn(`${result.name} failed: ${result.error ?? result.checks.filter((c) => !c.ok).map((c) => `${c.check}${c.detail ? ` (${c.detail})` : ''}`).join('; ')}`);
    }

    const report: DrillReport = { run: run.id, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), scale, ...(timescale ? { timescaledb: timescale.version, timescaleLayout: timescale.layout } : {}), passed: scenarios.every((s) => s.passed) && rehearsals.every((r) => r.passed), backups, scenarios, rehearsals, skipped };
    const dir = stringFlag(flags, 'report-dir') ?? path.join(projectRoot, 'reports', `drill-${run.id}`);
    const files = await run.step('write the reports', async (step) => {
      const written = writeReports(dir, report);
      step.note(dir);
      return written;
    });
    run.info(`report: ${files.markdown} (also .json, .html)`);
    run.report({ passed: report.passed, timescaledb: timescale?.version ?? null, scenarios: scenarios.map((s) => ({ name: s.name, scenario: s.scenario, passed: s.passed, rtoMs: s.rtoMs, rpoMs: s.rpoMs })), rehearsals: rehearsals.map((r) => ({ plan: r.plan, passed: r.passed })), reports: files, skipped });
    if (!report.passed) throw new VerificationError(`${scenarios.filter((s) => !s.passed).length} of ${scenarios.length} drill scenarios and ${rehearsals.filter((r) => !r.passed).length} of ${rehearsals.length} rehearsals failed`);
    return {};
  },
});
