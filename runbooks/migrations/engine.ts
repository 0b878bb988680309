import type pg from 'pg';
import { RefusedError, UsageError } from '../engine/errors';
import type { Run } from '../engine/run';
import { connect } from '../stores/postgres/connect';
import { Journal, journalExists, type PhaseState } from './journal';
import { type Phase, type PhaseContext, type PhaseId, type Plan, type PlanOptions } from './plan';

interface Session {
  target: pg.Client;
  journal: Journal;
  state: Map<PhaseId, PhaseState>;
}

/** Connect, take the plan's lock, read where it stands. Dry runs create nothing. */
async function openSession(run: Run, plan: Plan, options: PlanOptions): Promise<Session> {
  const target = await connect(options.targetUrl, '--target-url');
  run.onCleanup(() => target.end().catch(() => undefined));
  if (run.dryRun && !(await journalExists(target))) {
    const journal = new Journal(target, plan.id, run.id);
    return { target, journal, state: new Map() };
  }
  const journal = await Journal.open(target, plan.id, run.id);
  if (!run.dryRun) await journal.lock();
  return { target, journal, state: await journal.state() };
}

function context(run: Run, plan: Plan, options: PlanOptions, session: Session): PhaseContext {
  return {
    run,
    plan,
    options,
    journal: session.journal,
    target: session.target,
    recorded: (phase) => session.state.get(phase)?.details ?? {},
    endedAt: (phase) => (session.state.get(phase)?.last === 'end' ? session.state.get(phase)?.at : undefined),
  };
}

const done = (state: PhaseState | undefined) => state?.last === 'end';

/**
 * Run phases in order at one choke point: a completed phase is a no-op, a
 * failed or killed one runs again (phases resume from their ledgers), and
 * every start/end/fail is journaled with its timing.
 */
export async function runPlan(run: Run, plan: Plan, options: PlanOptions, which: { phase?: PhaseId; all: boolean }): Promise<{ ran: PhaseId[]; skipped: PhaseId[] }> {
  if (!which.all && !which.phase) throw new UsageError('choose --phase <p> or --all');
  const session = await openSession(run, plan, options);
  const ctx = context(run, plan, options, session);
  const order = plan.phases;
  let selected: Phase[] = order;
  if (which.phase) {
    const index = order.findIndex((p) => p.id === which.phase);
    if (index < 0) throw new UsageError(`plan ${plan.id} has no phase "${which.phase}" (phases: ${order.map((p) => p.id).join(', ')})`);
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
    const resumed = session.state.get(phase.id)?.last === 'start' || session.state.get(phase.id)?.last === 'fail';
    await run.step(`${phase.id}: ${phase.title}`, async (step) => {
      if (phase.precondition) await phase.precondition(ctx);
      const started = Date.now();
      await session.journal.append(phase.id, 'start', resumed ? { resumed: true } : {});
      try {
        const details = { ...((await phase.run(ctx)) ?? {}) };
        Object.assign(details, (await phase.verify?.(ctx)) ?? {});
        await session.journal.append(phase.id, 'end', details, Date.now() - started);
        session.state.set(phase.id, { phase: phase.id, last: 'end', at: new Date(), details });
        step.record(details);
        if (resumed) step.note('resumed');
      } catch (error) {
        await session.journal.append(phase.id, 'fail', { message: (error as Error).message }, Date.now() - started).catch(() => undefined);
        throw error;
      }
    }, { detail: plan.title });
    ran.push(phase.id);
  }
  return { ran, skipped };
}

/**
 * Undo every phase that ran, newest first, back to the pre-migration state.
 * Each reverse step is journaled.
 */
export async function rollbackPlan(run: Run, plan: Plan, options: PlanOptions): Promise<{ rolledBack: PhaseId[] }> {
  const session = await openSession(run, plan, options);
  const ctx = context(run, plan, options, session);
  const touched = [...plan.phases].reverse().filter((p) => {
    const last = session.state.get(p.id)?.last;
    return last === 'end' || last === 'start' || last === 'fail' || last === 'rollback';
  });
  if (touched.length === 0) {
    run.info(`plan ${plan.id} has nothing to roll back`);
    return { rolledBack: [] };
  }
  await run.step('confirm rollback', async () => undefined, { confirm: { action: `roll back ${touched.map((p) => p.id).join(', ')} of plan ${plan.id}`, target: plan.id } });
  const rolledBack: PhaseId[] = [];
  for (const phase of touched) {
    await run.step(`rollback ${phase.id}`, async () => {
      const started = Date.now();
      await session.journal.append(phase.id, 'rollback');
      await phase.rollback?.(ctx);
      await session.journal.append(phase.id, 'rolled-back', {}, Date.now() - started);
      session.state.set(phase.id, { phase: phase.id, last: 'rolled-back', details: {} });
    });
    rolledBack.push(phase.id);
  }
  return { rolledBack };
}

/**
 * During the dual-write window: re-check parity every `intervalMs` until the
 * safety window has passed (or `checks` were made), journaling each check.
 * A check that fails stops the watch with exit 3 before cleanup can run.
 */
export async function watchParity(run: Run, plan: Plan, options: PlanOptions, opts: { intervalMs: number; checks?: number }): Promise<{ checks: number; windowEndsAt: string | null }> {
  if (!plan.parity) throw new UsageError(`plan ${plan.id} has no parity check to watch`);
  const session = await openSession(run, plan, options);
  const ctx = context(run, plan, options, session);
  const since = ctx.endedAt('dual-write');
  if (!since) throw new RefusedError(`plan ${plan.id} is not in its dual-write window (run --phase dual-write first)`);
  const windowEnds = since.getTime() + options.safetyWindowMs;
  let checks = 0;
  for (;;) {
    checks++;
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
    if ((opts.checks !== undefined && checks >= opts.checks) || Date.now() >= windowEnds) break;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(opts.intervalMs, windowEnds - Date.now()))));
  }
  return { checks, windowEndsAt: new Date(windowEnds).toISOString() };
}

export async function planStatus(run: Run, plan: Plan, options: PlanOptions): Promise<{ phase: PhaseId; state: string; at: string | null }[]> {
  const target = await connect(options.targetUrl, '--target-url');
  try {
    const state = (await journalExists(target)) ? await new Journal(target, plan.id, run.id).state() : new Map<PhaseId, PhaseState>();
    return plan.phases.map((p) => {
      const s = state.get(p.id);
      const label = s?.last === 'end' ? 'done' : s?.last === 'start' ? 'interrupted' : s?.last === 'fail' ? 'failed' : s?.last === 'rolled-back' ? 'rolled back' : s?.last === 'rollback' ? 'rollback interrupted' : 'pending';
      return { phase: p.id, state: label, at: s?.at ? s.at.toISOString() : null };
    });
  } finally {
    await target.end();
  }
}

