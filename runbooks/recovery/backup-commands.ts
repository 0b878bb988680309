import type { CliContext, CommandResult } from '../engine/cli';
import { numberFlag, stringFlag } from '../engine/cli';
import { postgresUrl, validated } from '../engine/config';
import { UsageError, VerificationError } from '../engine/errors';
import { isGood, listBackups, readManifest, recordVerification, STORES, type Manifest, type Store } from '../repository/manifest';
import { sourceLabel } from '../repository/backup-source';
import { planPrune } from '../repository/retention';
import { verifyArtifacts } from '../repository/transfer';
import { pgbackrest, requireConfig } from '../stores/postgres/pgbackrest';
import { databaseIdentity } from '../stores/postgres/server-info';
import { recoveryContext } from './context';

const summarise = (m: Manifest) => ({
  id: m.id,
  store: m.store,
  kind: m.kind,
  source: sourceLabel(m),
  finishedAt: m.finishedAt,
  recoveryPoint: m.recoveryPoint ?? null,
  dataUpTo: m.dataUpTo,
  bytes: m.files.reduce((sum, f) => sum + f.size, 0),
  files: m.files.length,
  tables: m.tables.length,
  ...(m.details.label ? { label: m.details.label } : {}),
});

async function backupStore(ctx: CliContext, store: Store): Promise<Manifest | undefined> {
  const { run, flags, settings } = ctx;
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  if (store === 'postgres') {
    const databaseUrl = validated('DATABASE_URL', postgresUrl, settings.require('DATABASE_URL', stringFlag(flags, 'database-url'), '--database-url'));
    await run.lock(`postgres:${databaseIdentity(databaseUrl)}`);
    const kind = stringFlag(flags, 'kind') ?? 'logical';
    // Store modules load on demand: a run pays only for the clients it uses.
    if (kind === 'logical') return (await import('../stores/postgres/logical-backup')).logicalBackup(run, { databaseUrl, repo, env, jobs: numberFlag(flags, 'jobs', 2) });
    if (kind === 'physical') {
      const type = (stringFlag(flags, 'type') ?? 'full') as 'full' | 'diff' | 'incr';
      if (!['full', 'diff', 'incr'].includes(type)) throw new UsageError('--type must be full, diff or incr');
      const target = requireConfig({ configFile: settings.get('PGBACKREST_CONFIG'), stanza: settings.get('PGBACKREST_STANZA') });
      return (await import('../stores/postgres/physical-backup')).physicalBackup(run, { databaseUrl, pgbackrest: target, repo, env, type });
    }
    throw new UsageError('--kind must be logical or physical');
  }
  if (store === 'redis') {
    const redisUrl = settings.require('REDIS_URL', stringFlag(flags, 'redis-url'), '--redis-url');
    await run.lock(`redis:${new URL(redisUrl).host}`);
    return (await import('../stores/redis/rdb-backup')).rdbBackup(run, { redisUrl, repo, env });
  }
  const url = settings.require('QDRANT_URL', stringFlag(flags, 'qdrant-url'), '--qdrant-url');
  await run.lock(`qdrant:${new URL(url).host}`);
  const collections = flags.collection as string[] | undefined;
  return (await import('../stores/qdrant/snapshot-backup')).snapshotBackup(run, { qdrant: { url, apiKey: settings.get('QDRANT_API_KEY') }, repo, env, ...(collections?.length ? { collections } : {}) });
}

export async function backupCommand(ctx: CliContext): Promise<CommandResult> {
  const { command } = ctx;
  if (command === 'list') return list(ctx);
  if (command === 'verify') return verify(ctx);
  if (command === 'prune') return prune(ctx);
  const stores: Store[] = command === 'all' ? ['postgres', 'redis', ...(ctx.settings.get('QDRANT_URL', stringFlag(ctx.flags, 'qdrant-url')) ? (['qdrant'] as const) : [])] : [command as Store];
  if (command === 'all' && !stores.includes('qdrant')) ctx.run.warn('QDRANT_URL is not set: Qdrant skipped');
  const made: Manifest[] = [];
  for (const store of stores) {
    const manifest = await backupStore(ctx, store);
    if (manifest) {
      made.push(manifest);
      ctx.run.report({ backups: made.map(summarise) });
    }
  }
  return { figures: { ...(made.length === 1 ? { id: made[0]!.id } : {}), ids: made.map((m) => m.id), backups: made.map(summarise) } };
}

async function list({ run, flags, settings }: CliContext): Promise<CommandResult> {
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const store = stringFlag(flags, 'store') as Store | undefined;
  if (store && !STORES.includes(store)) throw new UsageError(`--store must be one of ${STORES.join(', ')}`);
  const entries = await run.step('read manifests', () => listBackups(repo, env, store), { readOnly: true });
  for (const e of entries) {
    const s = summarise(e.manifest);
    const verified = e.verification ? (e.verification.ok ? `verified ${e.verification.at.slice(0, 16)}` : 'FAILED VERIFY') : 'not re-verified';
    run.info(`${s.id.padEnd(46)} ${s.source.padEnd(32)} ${s.finishedAt.slice(0, 19)}  ${(s.bytes / 1048576).toFixed(1).padStart(8)} MiB  data to ${s.dataUpTo?.slice(0, 19) ?? '?'}  ${verified}`);
  }
  return { figures: { repo: repo.url, env, count: entries.length, backups: entries.map((e) => ({ ...summarise(e.manifest), good: isGood(e), verification: e.verification ?? null })) } };
}

async function verify({ run, args, flags, settings }: CliContext): Promise<CommandResult> {
  const id = args[0];
  if (!id) throw new UsageError('verify needs a backup id (see: backup.ts list)');
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const manifest = await run.step('read manifest', () => readManifest(repo, env, id), { readOnly: true });
  const problems = await run.step('re-read every artifact and check sha256', async (step) => {
    const found = (await verifyArtifacts(repo, manifest, (d, t) => step.progress(d, t, 'files'))).map((p) => `${p.path}: ${p.problem}`);
    step.note(`${manifest.files.length} files`);
    return found;
  }, { readOnly: true });
  if (manifest.kind === 'physical' && problems.length === 0) {
    await run.step('pgbackrest verify', async () => {
      const target = requireConfig({ configFile: settings.get('PGBACKREST_CONFIG'), stanza: settings.get('PGBACKREST_STANZA') });
      const out = await pgbackrest(target, ['verify', `--set=${String(manifest.details.label)}`], { nothrow: true });
      if (out.exitCode !== 0) problems.push(`pgbackrest verify: ${(out.stderr || out.stdout).trim().split('\n').at(-1)}`);
    }, { readOnly: true });
  }
  await run.step('record verification', () => recordVerification(repo, manifest, { at: new Date().toISOString(), ok: problems.length === 0, run: run.id, problems }));
  run.report({ id, ok: problems.length === 0, problems });
  if (problems.length) throw new VerificationError(`backup ${id} failed verification: ${problems.join('; ')}`);
  return { figures: { id, files: manifest.files.length } };
}

async function prune({ run, flags, settings }: CliContext): Promise<CommandResult> {
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const days = numberFlag(flags, 'retention-days', Number(settings.get('TICKVAULT_RETENTION_DAYS') ?? 30));
  if (!(days > 0)) throw new UsageError('--retention-days must be positive');
  const entries = await run.step('read manifests', () => listBackups(repo, env), { readOnly: true });
  const plan = planPrune(entries, new Date(), days);
  for (const d of plan.delete) run.info(`${run.dryRun ? 'would delete' : 'delete'} ${d.id} (${d.reason})`);
  run.report({ retentionDays: days, wouldDelete: plan.delete.map((d) => d.id), kept: plan.keep.length });
  if (plan.delete.length === 0) return { figures: { deleted: [] } };
  await run.step(`delete ${plan.delete.length} expired backup(s)`, async () => {
    for (const d of plan.delete) {
      const prefix = `${env}/${d.store}/${d.id}/`;
      const keys = await repo.list(prefix);
      // Manifest first: from that moment the backup no longer exists, even if the rest fails.
      const manifestKey = keys.find((k) => k.endsWith('/manifest.json'));
      if (manifestKey) await repo.remove([manifestKey]);
      await repo.remove(keys.filter((k) => k !== manifestKey));
    }
  }, { confirm: { action: `delete ${plan.delete.length} backup(s) older than ${days} days`, target: env } });
  return { figures: { deleted: run.dryRun ? [] : plan.delete.map((d) => d.id) } };
}
