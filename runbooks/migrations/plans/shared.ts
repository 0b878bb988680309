import { ConfigError } from '../../engine/errors';
import { repoUrl, validated } from '../../engine/config';
import { appendVersion, checkService } from '../../env/chain';
import { openVault } from '../../env/open-vault';
import { parseLocation, readLocation, writeLocation } from '../../env/sources';
import { openVersion } from '../../env/vault';
import { openRepository, repositoryEnv, type Repository } from '../../repository/repository';
import type { Phase, PhaseContext } from '../plan';

/** The backup repository (BACKUP_REPO) and the namespace backups go under (TICKVAULT_ENV). */
export function backupRepository(ctx: PhaseContext<unknown>): { repo: Repository; env: string } {
  const config = ctx.settings.backup.config;
  const url = config.get('BACKUP_REPO');
  if (!url) throw new ConfigError('the backup phase needs BACKUP_REPO (file:///path or s3://bucket/prefix)');
  return { repo: openRepository(validated('BACKUP_REPO', repoUrl, url), repositoryEnv(config)), env: config.get('TICKVAULT_ENV') ?? 'default' };
}

/** With --env-from: seal an env snapshot into the vault env.ts uses (same store, KMS or key file). */
async function envSnapshot(ctx: PhaseContext<unknown>): Promise<Record<string, unknown>> {
  const { envFrom, envService, config } = ctx.settings.backup;
  if (!envFrom) return {};
  const from = parseLocation(envFrom);
  const content = await readLocation(from);
  for (const [, value] of content.entries) ctx.run.masker.addEnvValue(value);
  const vault = openVault(config);
  const service = envService ?? ctx.plan.id;
  const version = await appendVersion(vault.store, vault.keys(true), { service, content, source: from.label, message: `before migration ${ctx.plan.id}${ctx.scope ? ` (${ctx.scope})` : ''}`, kind: 'snapshot' }, ctx.run.masker);
  return { envService: service, envVersion: version.id, envFrom: from.label, vault: vault.store.label };
}

/** The backup phase for the database at risk: the target (same-database plans) or the source. */
export function backupOf(which: 'source' | 'target'): Phase<unknown> {
  return {
    id: 'backup',
    title: `logical backup of the ${which} (and env snapshot)`,
    // Repository writes are not transactional; a re-run takes a fresh, complete backup.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const { repo, env } = backupRepository(ctx);
      // Loaded here: it brings zx, which every other migration run starts without.
      const { logicalBackup } = await import('../../stores/postgres/logical-backup');
      const manifest = await logicalBackup(ctx.run, { databaseUrl: which === 'source' ? ctx.settings.sourceUrl : ctx.settings.targetUrl, repo, env, jobs: ctx.settings.jobs });
      return { backupId: manifest?.id ?? null, ...(await envSnapshot(ctx)) };
    },
    async rollback(ctx) {
      const recorded = ctx.recorded('backup');
      if (!recorded.envVersion) return;
      const vault = openVault(ctx.settings.backup.config);
      const keys = vault.keys(false);
      const state = await checkService(vault.store, keys, String(recorded.envService), ctx.run.masker);
      const version = state.versions.find((v) => v.version.id === recorded.envVersion)?.version;
      if (!version) throw new ConfigError(`env snapshot ${String(recorded.envVersion)} is gone from the vault ${vault.store.label}`);
      const opened = await openVersion(keys, version, ctx.run.masker);
      await writeLocation(parseLocation(String(recorded.envFrom)), new Map(opened.entries), opened.document);
    },
  };
}

export const backupPhase = backupOf('target');

/** One scalar count from the target. */
export async function countOf(ctx: PhaseContext<unknown>, sql: string): Promise<number> {
  return Number((await ctx.target.query<{ n: string }>(sql)).rows[0]!.n);
}

/** Whether a relation exists on the target. */
export async function exists(ctx: PhaseContext<unknown>, name: string): Promise<boolean> {
  return Boolean((await ctx.target.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [name])).rows[0]?.ok);
}
