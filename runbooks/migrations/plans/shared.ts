import { ConfigError, RefusedError } from '../../engine/errors';
import { formatMs } from '../../engine/format';
import { readLocation, parseLocation, writeLocation } from '../../env/sources';
import { defaultKeyFile, FileKeyProvider } from '../../env/keys';
import { RepositoryVaultStore } from '../../env/store';
import { appendVersion, checkService } from '../../env/chain';
import { openVersion } from '../../env/vault';
import { openRepository } from '../../repository/repository';
import { logicalBackup } from '../../stores/postgres/logical-backup';
import type { Phase, PhaseContext } from '../plan';

function repository(ctx: PhaseContext) {
  if (!ctx.options.backupRepo) throw new ConfigError('the backup phase needs BACKUP_REPO (file:///path or s3://bucket/prefix)');
  return openRepository(ctx.options.backupRepo, ctx.options.repoEnv);
}

/**
 * The backup phase every plan shares: a verified logical backup of the
 * database the plan changes (the backup runbook's own code), and an env
 * snapshot when --env-from is given. Rollback restores the env snapshot.
 */
export const backupPhase: Phase = backupOf('target');

/** The backup phase for the database at risk: the target (same-database plans) or the source. */
export function backupOf(which: 'source' | 'target'): Phase {
  return {
  id: 'backup',
  title: `logical backup of the ${which} (and env snapshot)`,
  async run(ctx) {
    const repo = repository(ctx);
    const manifest = await logicalBackup(ctx.run, { databaseUrl: which === 'source' ? ctx.options.sourceUrl : ctx.options.targetUrl, repo, env: ctx.options.backupEnv, jobs: ctx.options.jobs });
    const details: Record<string, unknown> = { backupId: manifest?.id ?? null };
    if (ctx.options.envFrom) {
      const from = parseLocation(ctx.options.envFrom);
      const content = await readLocation(from);
      const service = ctx.options.envService ?? ctx.plan.id;
      const version = await appendVersion(new RepositoryVaultStore(repo), new FileKeyProvider(defaultKeyFile(), { create: true }), { service, content, source: from.label, message: `before migration ${ctx.plan.id}`, kind: 'snapshot' }, ctx.run.masker);
      Object.assign(details, { envService: service, envVersion: version.id, envFrom: from.label });
    }
    return details;
  },
  async rollback(ctx) {
    const recorded = ctx.recorded('backup');
    if (!recorded.envVersion) return;
    const repo = repository(ctx);
    const keys = new FileKeyProvider(defaultKeyFile(), { create: false });
    const state = await checkService(new RepositoryVaultStore(repo), keys, String(recorded.envService), ctx.run.masker);
    const version = state.versions.find((v) => v.version.id === recorded.envVersion)?.version;
    if (!version) throw new ConfigError(`env snapshot ${String(recorded.envVersion)} is gone from the vault`);
    const opened = await openVersion(keys, version, ctx.run.masker);
    await writeLocation(parseLocation(String(recorded.envFrom)), new Map(opened.entries), opened.document);
  },
  };
}

/** One scalar count from the target. */
export async function countOf(ctx: PhaseContext, sql: string): Promise<number> {
  return Number((await ctx.target.query<{ n: string }>(sql)).rows[0]!.n);
}

/** Run fn in a transaction on the target; roll back on any error. */
export async function inTransaction<T>(ctx: PhaseContext, fn: () => Promise<T>): Promise<T> {
  await ctx.target.query('BEGIN');
  try {
    const result = await fn();
    await ctx.target.query('COMMIT');
    return result;
  } catch (error) {
    await ctx.target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Cleanup's gate: the safety window since dual-write has passed and parity
 * still holds; otherwise refuse (exit 4) and change nothing.
 */
export function safetyWindowThenParity(parity: (ctx: PhaseContext) => Promise<unknown>): (ctx: PhaseContext) => Promise<void> {
  return async (ctx) => {
    const since = ctx.endedAt('dual-write');
    const elapsed = since ? Date.now() - since.getTime() : 0;
    if (!since || elapsed < ctx.options.safetyWindowMs) {
      throw new RefusedError(`the safety window has not elapsed: ${formatMs(Math.max(0, ctx.options.safetyWindowMs - elapsed))} to go (window ${formatMs(ctx.options.safetyWindowMs)})`);
    }
    try {
      await parity(ctx);
    } catch (error) {
      throw new RefusedError(`parity no longer holds, cleanup refused: ${(error as Error).message}`);
    }
  };
}
