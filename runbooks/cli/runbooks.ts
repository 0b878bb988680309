/**
 * Every runbook the `tickvault` command dispatches to, loaded lazily so
 * `tickvault <runbook> --help` pays only for the runbook it names (the
 * bundler turns each import into its own chunk).
 */
export const RUNBOOKS = {
  backup: { summary: 'back up PostgreSQL, Redis and Qdrant; list, verify and prune backups', load: () => import('../backup') },
  restore: { summary: 'verified restores (logical, physical, point in time) with RTO/RPO', load: () => import('../restore') },
  drill: { summary: 'the disaster-recovery drill on its own embedded stack', load: () => import('../drill') },
  migrate: { summary: 'phased migrations: plans, run, status, watch, rollback', load: () => import('../migrate') },
  verify: { summary: 'compare one table across two databases, report differing keys', load: () => import('../verify') },
  validate: { summary: 'integrity report: counts, foreign keys, freshness, layout', load: () => import('../validate') },
  env: { summary: 'environment vault: snapshot, list, show, diff, restore, export', load: () => import('../env') },
  seed: { summary: 'deterministic market data shaped like the seeds', load: () => import('../seed') },
  local: { summary: 'the embedded local stack: up, status, down', load: () => import('../local') },
} as const;

export type RunbookName = keyof typeof RUNBOOKS;
export const RUNBOOK_NAMES = Object.keys(RUNBOOKS) as RunbookName[];
