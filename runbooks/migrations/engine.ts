import type pg from 'pg';
import { ConfigError, exitCodeOf, RefusedError, UsageError } from '../engine/errors';
import { formatMs } from '../engine/format';
import type { Run, StepContext } from '../engine/run';
import { inTransaction } from '../engine/transaction';
import { connect } from '../stores/postgres/connect';
import { Journal, journalExists, phaseStates, type PhaseState } from './journal';
import type { AnyPlan, Details, EngineSettings, Phase, PhaseContext, PhaseId } from './plan';
import { refuseSameDatabase } from './same-database';
import { cleanupSchedule, describeMoment, type CleanupSchedule } from './safety-window';

interface Session {
  /** The phases' connection to the target (their transactions run here). */
  target: pg.Client;
  /** The journal's own connection: holds the lock, and stays clean when a phase's transaction aborts. */
  journal: Journal;
  state: Map<PhaseId, PhaseState>;
  scope: string;
}

/**
 * Test hook: TICKVAULT_TEST_KILL_AT=<phase>:<point> makes the process
 * SIGKILL itself there, so tests interrupt a run at an exact place without
 * timing. Points: before (no event yet), start (start journaled), a phase's
 * own checkpoints, commit (work done, `end` not yet committed).
 */
function killPoint(phase: PhaseId, point: string): void {
  if (process.env.TICKVAULT_TEST_KILL_AT === `${phase}:${point}`) process.kill(process.pid, 'SIGKILL');
}

/** Parse the plan's own options; a bad or foreign option is a usage error naming it. */
export function planOptions<O>(plan: AnyPlan, raw: Record<string, unknown>): O {
  const parsed = plan.options.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = (issue as { keys?: string[] }).keys;
    const name = keys?.length ? keys.join(', ') : issue.path.join('.');
    const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`plan ${plan.id}: ${keys?.length ? `${keys.map(flag).join(', ')} is not an option of this plan` : `${flag(name)}: ${issue.message}`}`);
  }
  return parsed.data as O;
}

/** Connect twice (journal, phases), take the plan+scope lock, read where it stands. Dry runs create nothing. */
async function openSession(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings): Promise<Session> {
  const scope = plan.scope(options);
  const journalClient = await connect(settings.targetUrl, '--target-url', 'tickvault-journal');
  run.onCleanup(() => journalClient.end().catch(() => undefined));
  const target = await connect(settings.targetUrl, '--target-url');
  run.onCleanup(() => target.end().catch(() => undefined));
  if (run.dryRun && !(await journalExists(journalClient))) return { target, journal: new Journal(journalClient, plan.id, scope, run.id), state: new Map(), scope };
  const journal = await Journal.open(journalClient, plan.id, scope, run.id);
  if (!run.dryRun) await journal.lock();
  return { target, journal, state: await journal.state(), scope };
}

function context(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings, session: Session, phase?: PhaseId, step?: StepContext): PhaseContext<unknown> {
  return {
    run,
    plan,
    options,
    settings,
    scope: session.scope,
    target: session.target,
    recorded: (p) => session.state.get(p)?.details ?? {},
    endedAt: (p) => (session.state.get(p)?.last === 'end' ? session.state.get(p)?.at : undefined),
    note: async (details) => {
      if (!phase) return;
      await session.journal.append(phase, 'note', details);
      const s = session.state.get(phase) ?? { phase, details: {}, touched: false };
      session.state.set(phase, { ...s, touched: true, details: { ...s.details, ...details } });
    },
    progress: (done, total, unit) => {
      step?.progress(done, total, unit);
      if (step) lastProgress.set(step, `${done}/${total}${unit ? ` ${unit}` : ''}`);
    },
    checkpoint: (name) => phase && killPoint(phase, name),
  };
}

const done = (state: PhaseState | undefined) => state?.last === 'end';

// The last progress a step reported, printed with its end line (a bar is drawn only on a terminal).
const lastProgress = new WeakMap<StepContext, string>();

/**
 * Cleanup's gate, the same for every plan: the safety window since
 * dual-write has passed and a fresh parity check holds (journaled);
 * otherwise refuse (exit 4) and change nothing.
 */
async function cleanupGate(plan: AnyPlan, ctx: PhaseContext<unknown>, settings: EngineSettings, session: Session): Promise<void> {
  const since = ctx.endedAt('dual-write');
  if (!since) throw new RefusedError(`cleanup needs a completed dual-write phase (plan ${plan.id})`);
  const schedule = cleanupSchedule(since, false, settings.safetyWindowMs);
  if (schedule.state === 'waiting') {
    throw new RefusedError(`the safety window has not elapsed: cleanup is allowed from ${describeMoment(new Date(schedule.allowedAt!))} (window ${formatMs(settings.safetyWindowMs)})`, {
      hint: 'run `migrate watch` until then, or pass --safety-window',
      allowedAt: schedule.allowedAt,
    });
  }
  if (!plan.parity) throw new ConfigError(`plan ${plan.id} has a cleanup phase but no parity check`);
  try {
    const details = await plan.parity(ctx);
    await session.journal.append('cleanup', 'check', { ok: true, gate: 'cleanup', ...details });
  } catch (error) {
    await session.journal.append('cleanup', 'check', { ok: false, gate: 'cleanup', message: (error as Error).message });
    throw new RefusedError(`parity no longer holds, cleanup refused: ${(error as Error).message}`);
  }
}

/** Run one phase; the engine owns its transaction and journals start, end (with the work) and fail. */
async function runPhase(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings, session: Session, phase: Phase<unknown>): Promise<void> {
  const state = session.state.get(phase.id);
  const interrupted = state?.last === 'start' || state?.last === 'fail';
  if (interrupted && state?.touched && !phase.transaction && !phase.idempotent) {
    throw new RefusedError(`phase ${phase.id} of plan ${plan.id} stopped part-way and is not safe to run again`, {
      hint: `roll it back first: migrate rollback --plan ${plan.id} --yes (with the same options${session.scope ? `, scope ${session.scope}` : ''}), then run again`,
    });
  }
  if (run.dryRun && phase.id === 'preflight') return dryRunPreflight(run, plan, options, settings, session, phase);
  await run.step(`${phase.id}: ${phase.title}`, async (step) => {
    const ctx = context(run, plan, options, settings, session, phase.id, step);
    killPoint(phase.id, 'before');
    if (phase.id === 'cleanup') await cleanupGate(plan, ctx, settings, session);
    if (phase.precondition) await phase.precondition(ctx);
    const started = Date.now();
    await session.journal.append(phase.id, 'start', { transaction: phase.transaction, ...(interrupted ? { resumed: true } : {}) });
    killPoint(phase.id, 'start');
    try {
      const work = async () => {
        const details = { ...((await phase.run(ctx)) ?? {}) };
        Object.assign(details, (await phase.verify?.(ctx)) ?? {});
        killPoint(phase.id, 'commit');
        return details;
      };
      let details: Details;
      let endedAt: Date;
      if (phase.transaction) {
        // The journal's `end` commits with the phase's work, or neither does.
        [details, endedAt] = await inTransaction(session.target, async () => {
          const d = await work();
          return [d, await session.journal.append(phase.id, 'end', d, Date.now() - started, session.target)] as const;
        });
      } else {
        details = await work();
        endedAt = await session.journal.append(phase.id, 'end', details, Date.now() - started);
      }
      // The journal's own time, so this run and `status` name the same cleanup time.
      session.state.set(phase.id, { phase: phase.id, last: 'end', at: endedAt, details: { ...state?.details, ...details }, touched: true });
      step.record(details);
      const progress = lastProgress.get(step);
      if (interrupted || progress) step.note([progress, interrupted ? 'resumed' : undefined].filter(Boolean).join(', '));
    } catch (error) {
      // Exit 2 and 4 promise "nothing changed"; a transactional phase rolled back whatever it did.
      const changed = !phase.transaction && ![2, 4].includes(exitCodeOf(error));
      // On the journal's own connection, which the phase's aborted transaction never touched.
      await session.journal.append(phase.id, 'fail', { message: (error as Error).message, changed }, Date.now() - started).catch((journalError: Error) => run.warn(`could not journal the failure of ${phase.id}: ${journalError.message}`));
      const s = session.state.get(phase.id);
      session.state.set(phase.id, { phase: phase.id, last: 'fail', details: s?.details ?? {}, touched: Boolean(s?.touched) || changed });
      throw error;
    }
  }, { detail: plan.title });
}

/**
 * --dry-run: the preflight checks run for real, in a READ ONLY transaction
 * on the target that is rolled back, and nothing is journaled. A failed
 * check fails the dry run with its own exit code, as the real run would.
 */
async function dryRunPreflight(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings, session: Session, phase: Phase<unknown>): Promise<void> {
  await run.step(`${phase.id}: ${phase.title} (checked now, read-only)`, async (step) => {
    const ctx = context(run, plan, options, settings, session, undefined, step);
    await inTransaction(session.target, async () => {
      if (phase.precondition) await phase.precondition(ctx);
      const details = { ...((await phase.run(ctx)) ?? {}), ...((await phase.verify?.(ctx)) ?? {}) };
      step.record(details);
    }, { discard: true, readOnly: true });
  }, { readOnly: true, detail: plan.title });
}

/**
 * `run --all` stops before cleanup while the safety window runs: that is the
 * normal course of a migration, not a failure (exit 0), and the operator is
 * told when to come back. An explicit `--phase cleanup` is still refused.
 */
function waitingForWindow(run: Run, plan: AnyPlan, settings: EngineSettings, session: Session, ran: PhaseId[]): CleanupSchedule | undefined {
  // In a dry run, a dual-write that was only planned would end now.
  const ended = session.state.get('dual-write')?.last === 'end' ? session.state.get('dual-write')?.at : run.dryRun && ran.includes('dual-write') ? new Date() : undefined;
  const schedule = cleanupSchedule(ended, false, settings.safetyWindowMs);
  if (schedule.state !== 'waiting') return undefined;
  run.info(`cleanup waits for the safety window (${formatMs(settings.safetyWindowMs)} after dual-write): allowed from ${describeMoment(new Date(schedule.allowedAt!))}`);
  run.info(`come back then: tickvault migrate run --plan ${plan.id} --all (with the same flags); meanwhile \`tickvault migrate watch --plan ${plan.id}\` re-checks parity`);
  return schedule;
}

/**
 * Run phases in order at one choke point: a completed phase is a no-op, a
 * failed or killed one runs again (phases are transactional or idempotent),
 * and every start/end/fail is journaled with its timing.
 */
export async function runPlan(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings, which: { phase?: PhaseId; all: boolean }): Promise<{ scope: string; ran: PhaseId[]; skipped: PhaseId[]; waiting?: { phase: 'cleanup'; allowedAt: string } }> {
  if (!which.all && !which.phase) throw new UsageError('choose --phase <p> or --all');
  const order = plan.phases;
  const index = which.phase ? order.findIndex((p) => p.id === which.phase) : 0;
  if (index < 0) throw new UsageError(`plan ${plan.id} has no phase "${which.phase}" (phases: ${order.map((p) => p.id).join(', ')})`);
  if (plan.crossDatabase) await run.step('source and target are different databases', () => refuseSameDatabase(settings.sourceUrl, settings.targetUrl), { readOnly: true });
  const session = await openSession(run, plan, options, settings);
  let selected: Phase<unknown>[] = order;
  if (which.phase) {
    const missing = order.slice(0, index).filter((p) => !done(session.state.get(p.id)));
    if (missing.length && !run.dryRun) throw new RefusedError(`phase ${which.phase} needs ${missing.map((p) => p.id).join(', ')} first`, { hint: `run --phase ${missing[0]!.id}, or --all` });
    selected = [order[index]!];
  }
  const ran: PhaseId[] = [];
  const skipped: PhaseId[] = [];
  for (const phase of selected) {
    if (done(session.state.get(phase.id))) {
      skipped.push(phase.id);
      run.info(`${phase.id}: already completed, nothing to do`);
      continue;
    }
    if (which.all && phase.explicit) {
      run.info(`${phase.id}: not part of --all; run it when ready: --phase ${phase.id}`);
      break;
    }
    if (phase.id === 'cleanup' && which.all) {
      const waiting = waitingForWindow(run, plan, settings, session, ran);
      if (waiting) return { scope: session.scope, ran, skipped, waiting: { phase: 'cleanup', allowedAt: waiting.allowedAt! } };
    }
    await runPhase(run, plan, options, settings, session, phase);
    ran.push(phase.id);
  }
  return { scope: session.scope, ran, skipped };
}

/**
 * Undo, newest first, exactly the phases the journal says may have changed
 * something for this plan and scope: a refused phase, or one that failed
 * inside its transaction, is not "rolled back". Each reverse step is
 * journaled, in the phase's transaction when the phase is transactional.
 */
export async function rollbackPlan(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings): Promise<{ scope: string; rolledBack: PhaseId[] }> {
  const session = await openSession(run, plan, options, settings);
  const touched = [...plan.phases].reverse().filter((p) => {
    const s = session.state.get(p.id);
    return Boolean(s?.touched) || s?.last === 'rollback';
  });
  if (touched.length === 0) {
    run.info(`plan ${plan.id}${session.scope ? ` (${session.scope})` : ''} has nothing to roll back`);
    return { scope: session.scope, rolledBack: [] };
  }
  await run.step('confirm rollback', async () => undefined, { confirm: { action: `roll back ${touched.map((p) => p.id).join(', ')} of plan ${plan.id}${session.scope ? ` for ${session.scope}` : ''}`, target: plan.id } });
  const rolledBack: PhaseId[] = [];
  for (const phase of touched) {
    await run.step(`rollback ${phase.id}`, async (step) => {
      const ctx = context(run, plan, options, settings, session, phase.id, step);
      const started = Date.now();
      await session.journal.append(phase.id, 'rollback');
      if (phase.transaction) {
        await inTransaction(session.target, async () => {
          await phase.rollback?.(ctx);
          await session.journal.append(phase.id, 'rolled-back', {}, Date.now() - started, session.target);
        });
      } else {
        await phase.rollback?.(ctx);
        await session.journal.append(phase.id, 'rolled-back', {}, Date.now() - started);
      }
      session.state.set(phase.id, { phase: phase.id, last: 'rolled-back', details: {}, touched: false });
    });
    rolledBack.push(phase.id);
  }
  return { scope: session.scope, rolledBack };
}

/**
 * During the dual-write window: re-check parity every `intervalMs` until the
 * safety window has passed (or `checks` were made), journaling each check.
 * A check that fails stops the watch with exit 3 before cleanup can run.
 */
export async function watchParity(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings, opts: { intervalMs: number; checks?: number }): Promise<{ checks: number; windowEndsAt: string | null }> {
  if (!plan.parity) throw new UsageError(`plan ${plan.id} has no parity check to watch`);
  const session = await openSession(run, plan, options, settings);
  const ctx = context(run, plan, options, settings, session);
  const since = ctx.endedAt('dual-write');
  if (!since) throw new RefusedError(`plan ${plan.id} is not in its dual-write window (run --phase dual-write first)`);
  const windowEnds = since.getTime() + settings.safetyWindowMs;
  let checks = 0;
  let lastBacklog: LagSample | undefined;
  for (;;) {
    checks++;
    // The backlog one interval left (nothing applies between checks), compared from check to check; the
    // first check's covers the time since dual-write or an earlier watch, not an interval: no comparison.
    if (plan.lag) lastBacklog = await watchBacklog(run, plan, ctx, checks > 2 ? lastBacklog : undefined);
    await run.step(`parity check ${checks}`, async (step) => {
      try {
        const details = await plan.parity!(ctx);
        await session.journal.append('dual-write', 'check', { ok: true, ...details });
        step.record(details);
      } catch (error) {
        await session.journal.append('dual-write', 'check', { ok: false, message: (error as Error).message });
        throw error;
      }
    }, { readOnly: true });
    if (plan.lag) {
      const lag = await plan.lag(ctx);
      run.info(`replication lag ${lag.bytes} bytes, ${String(lag.seconds ?? 0)} s after the check`, { lag });
    }
    if ((opts.checks !== undefined && checks >= opts.checks) || Date.now() >= windowEnds) break;
    // The interval between checks is the operator's schedule, not synchronisation.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(opts.intervalMs, windowEnds - Date.now()))));
  }
  return { checks, windowEndsAt: new Date(windowEnds).toISOString() };
}

type LagSample = Details & { bytes: number; pendingChanges?: number | null };

/** Change-capture lag before a watch check applies it: printed, and a warning when it grew since the last check. */
async function watchBacklog(run: Run, plan: AnyPlan, ctx: PhaseContext<unknown>, previous: LagSample | undefined): Promise<LagSample> {
  const lag = (await plan.lag!(ctx)) as LagSample;
  const { lagGrew } = await import('./cdc/lag');
  run.info(`replication lag ${lag.bytes} bytes, ${String(lag.seconds ?? 0)} s, ${String(lag.pendingChanges ?? '?')} change(s) pending before the check`, { backlog: lag });
  if (previous && lagGrew({ pendingChanges: previous.pendingChanges ?? null }, { pendingChanges: lag.pendingChanges ?? null })) {
    run.warn(`replication lag grew from ${String(previous.pendingChanges)} to ${String(lag.pendingChanges)} pending changes (${previous.bytes} to ${lag.bytes} bytes) since the last check: the source writes faster than checks apply; shorten --interval`, {
      lagGrew: true, pendingChanges: lag.pendingChanges, previousPendingChanges: previous.pendingChanges, lagBytes: lag.bytes, previousLagBytes: previous.bytes,
    });
  }
  return lag;
}

export async function planStatus(run: Run, plan: AnyPlan, options: unknown, settings: EngineSettings): Promise<{ scope: string; phases: { phase: PhaseId; state: string; at: string | null }[] }> {
  const scope = plan.scope(options);
  const target = await connect(settings.targetUrl, '--target-url');
  try {
    const state = (await journalExists(target)) ? phaseStates(await new Journal(target, plan.id, scope, run.id).events()) : new Map<PhaseId, PhaseState>();
    const phases = plan.phases.map((p) => {
      const s = state.get(p.id);
      const label = s?.last === 'end' ? 'done' : s?.last === 'start' ? 'interrupted' : s?.last === 'fail' ? 'failed' : s?.last === 'rolled-back' ? 'rolled back' : s?.last === 'rollback' ? 'rollback interrupted' : s?.last === 'note' ? 'interrupted' : 'pending';
      return { phase: p.id, state: label, at: s?.at ? s.at.toISOString() : null };
    });
    return { scope, phases };
  } finally {
    await target.end();
  }
}
