import type { CliContext, CommandResult } from '../engine/cli';
import { numberFlag, stringFlag } from '../engine/cli';
import { postgresUrl, validated } from '../engine/config';
import { LockHeldError, UsageError, VerificationError } from '../engine/errors';
import { acquireFileLock, type Lock } from '../engine/lock';
import type { Run } from '../engine/run';
import { backupIdFlag, backupIdTime } from '../repository/ids';
import { backupLockKey, isGood, listBackups, readManifest, recordVerification, scanBackups, STORES, type Manifest, type RepositoryScan, type Store } from '../repository/manifest';
import type { Repository } from '../repository/repository';
import { planPrune, verificationCandidates } from '../repository/retention';
import { sourceLabel } from '../repository/backup-source';
import { verifyArtifacts } from '../repository/transfer';
import { stillWriting } from '../repository/writing-lease';
import { pgbackrest, requireConfig } from '../stores/postgres/pgbackrest';
import { recoveryContext } from './context';
import { publishFreshness } from './freshness-metric';
import { postgresIdentity, serviceIdentity } from './target-identity';

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
    if (!run.dryRun) await run.lock(await postgresIdentity(databaseUrl));
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
    // ElastiCache has no BGSAVE or RDB file to reach: snapshot + export (stores/redis/elasticache.ts).
    const group = settings.get('ELASTICACHE_REPLICATION_GROUP');
    if (group) {
      await run.lock(`redis:elasticache:${group}`);
      return (await import('../stores/redis/elasticache')).elasticacheBackup(run, { replicationGroupId: group, repo, repoUrl: repo.url, env, region: settings.get('AWS_REGION') });
    }
    const redisUrl = settings.require('REDIS_URL', stringFlag(flags, 'redis-url'), '--redis-url');
    if (!run.dryRun) await run.lock(await serviceIdentity('redis', redisUrl));
    return (await import('../stores/redis/rdb-backup')).rdbBackup(run, { redisUrl, repo, env });
  }
  const url = settings.require('QDRANT_URL', stringFlag(flags, 'qdrant-url'), '--qdrant-url');
  if (!run.dryRun) await run.lock(await serviceIdentity('qdrant', url));
  const collections = flags.collection as string[] | undefined;
  return (await import('../stores/qdrant/snapshot-backup')).snapshotBackup(run, { qdrant: { url, apiKey: settings.get('QDRANT_API_KEY') }, repo, env, ...(collections?.length ? { collections } : {}) });
}

export async function backupCommand(ctx: CliContext): Promise<CommandResult> {
  try {
    return await dispatch(ctx);
  } finally {
    // After every run that can change freshness, failed ones included (TICKVAULT_METRICS; see freshness-metric.ts).
    if (ctx.command !== 'list' && !ctx.run.dryRun && ctx.settings.get('TICKVAULT_METRICS')) {
      try {
        await publishFreshness(ctx.run, ctx.settings, recoveryContext(ctx.settings, stringFlag(ctx.flags, 'repo')));
      } catch (error) {
        ctx.run.warn(`backup freshness not published: ${(error as Error).message}`);
      }
    }
  }
}

async function dispatch(ctx: CliContext): Promise<CommandResult> {
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
  const scan = await run.step('read manifests', () => scanBackups(repo, env, store), { readOnly: true });
  const entries = scan.entries;
  reportScan(run, scan);
  for (const e of entries) {
    const s = summarise(e.manifest);
    const verified = e.verification ? (e.verification.ok ? `verified ${e.verification.at.slice(0, 16)}` : 'FAILED VERIFY') : 'not re-verified';
    run.info(`${s.id.padEnd(46)} ${s.source.padEnd(32)} ${s.finishedAt.slice(0, 19)}  ${(s.bytes / 1048576).toFixed(1).padStart(8)} MiB  data to ${s.dataUpTo?.slice(0, 19) ?? '?'}  ${verified}`);
  }
  return {
    figures: {
      repo: repo.url,
      env,
      count: entries.length,
      backups: entries.map((e) => ({ ...summarise(e.manifest), good: isGood(e), verification: e.verification ?? null })),
      problems: scan.problems,
      incomplete: scan.incomplete.map((i) => ({ id: i.id, store: i.store, prefix: i.prefix, files: i.keys.length })),
    },
  };
}

/** Damaged or unauthentic files, and folders without a manifest: named, never fatal for the others. */
function reportScan(run: Run, scan: RepositoryScan): void {
  for (const p of scan.problems) run.warn(`skipped ${p.key}: ${p.problem}`, { key: p.key });
  for (const i of scan.incomplete) run.warn(`incomplete backup ${i.prefix}: no manifest yet (${i.keys.length} file(s); being written, or left by a killed run); "backup prune" removes it once it is ${ORPHAN_HOURS} h old and its writer is gone`, { key: i.prefix });
}

/** A folder without a manifest younger than this may belong to a backup still running. */
const ORPHAN_HOURS = 24;

/** Re-read every artifact; record the result (authenticated) in the repository. */
async function verifyBackup(run: Run, repo: Repository, manifest: Manifest, settings: CliContext['settings'], onProgress?: (d: number, t: number) => void): Promise<string[]> {
  const problems = (await verifyArtifacts(repo, manifest, onProgress)).map((p) => `${p.path}: ${p.problem}`);
  if (manifest.kind === 'physical' && problems.length === 0) {
    const label = String(manifest.details.label);
    if (!/^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/.test(label)) problems.push(`pgBackRest label "${label.slice(0, 40)}" is not a backup label`);
    else {
      const target = requireConfig({ configFile: settings.get('PGBACKREST_CONFIG'), stanza: settings.get('PGBACKREST_STANZA') });
      const out = await pgbackrest(target, ['verify', `--set=${label}`], { nothrow: true });
      if (out.exitCode !== 0) problems.push(`pgbackrest verify: ${(out.stderr || out.stdout).trim().split('\n').at(-1)}`);
    }
  }
  if (!run.dryRun) await recordVerification(repo, manifest, { at: new Date().toISOString(), ok: problems.length === 0, run: run.id, problems });
  return problems;
}

async function verify({ run, args, flags, settings }: CliContext): Promise<CommandResult> {
  if (!args[0]) throw new UsageError('verify needs a backup id (see: backup.ts list), or "latest --store s"');
  if (args[0] !== 'latest') backupIdFlag(args[0], 'verify');
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const id = args[0] === 'latest' ? await latestId(repo, env, stringFlag(flags, 'store')) : args[0];
  const manifest = await run.step('read manifest', () => readManifest(repo, env, id), { readOnly: true });
  const problems = await run.step('re-read every artifact, check sha256 and the folder holds exactly the manifest\'s files', async (step) => {
    const found = await verifyBackup(run, repo, manifest, settings, (d, t) => step.progress(d, t, 'files'));
    step.note(`${manifest.files.length} files`);
    return found;
  }, { readOnly: true });
  run.report({ id, ok: problems.length === 0, problems });
  if (problems.length) throw new VerificationError(`backup ${id} failed verification: ${problems.join('; ')}`);
  return { figures: { id, files: manifest.files.length } };
}

/** `verify latest --store s`: the newest backup of that store (what the scheduled verify job checks). */
async function latestId(repo: Parameters<typeof listBackups>[0], env: string, store: string | undefined): Promise<string> {
  if (!store || !STORES.includes(store as Store)) throw new UsageError(`verify latest needs --store ${STORES.join('|')}`);
  const newest = (await listBackups(repo, env, store as Store)).at(-1);
  if (!newest) throw new VerificationError(`no ${store} backup in the repository to verify`);
  return newest.manifest.id;
}

async function prune({ run, flags, settings }: CliContext): Promise<CommandResult> {
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const days = numberFlag(flags, 'retention-days', Number(settings.get('TICKVAULT_RETENTION_DAYS') ?? 30));
  if (!(days > 0)) throw new UsageError('--retention-days must be positive');
  // Prune excludes backups and restores of the same env's backups: one lock over the env's folder.
  await run.lock(`repository:${repo.url}/${env}`);
  const scan = await run.step('read manifests', () => scanBackups(repo, env), { readOnly: true });
  reportScan(run, scan);
  const now = new Date();
  // Only a verified backup may cover an older one: verify the unverified newer ones first (newest first).
  const candidates = verificationCandidates(scan.entries, now, days);
  if (candidates.length) {
    await run.step(`re-verify ${candidates.length} unverified backup(s) before anything is covered`, async (step) => {
      const byGroup = new Set<string>();
      for (const entry of candidates) {
        const group = `${entry.manifest.store}/${entry.manifest.kind}`;
        if (byGroup.has(group)) continue; // a newer one of this group already passed
        const problems = await verifyBackup(run, repo, entry.manifest, settings);
        // In memory too: a dry run records nothing but plans with the same verdicts.
        entry.verification = { id: entry.manifest.id, at: new Date().toISOString(), ok: problems.length === 0, run: run.id, problems };
        if (problems.length) run.warn(`${entry.manifest.id} failed verification, so it covers nothing: ${problems.join('; ')}`);
        else byGroup.add(group);
      }
      step.note(`${byGroup.size} group(s) have a verified newest backup`);
    }, { readOnly: true });
  }
  const plan = planPrune(scan.entries, now, days);
  const orphans: RepositoryScan['incomplete'] = [];
  for (const i of scan.incomplete.filter((i) => now.getTime() - (backupIdTime(i.id)?.getTime() ?? now.getTime()) > ORPHAN_HOURS * 3_600_000)) {
    // A long backup has no manifest yet either: its writer's lease or lock keeps it.
    const writer = await stillWriting(repo, env, i.id, i.keys, run.id, now);
    if (writer) run.warn(`kept incomplete ${i.prefix}: still being written (${writer})`, { key: i.prefix });
    else orphans.push(i);
  }
  for (const d of plan.delete) run.info(`${run.dryRun ? 'would delete' : 'delete'} ${d.id} (${d.reason})`);
  for (const o of orphans) run.info(`${run.dryRun ? 'would remove' : 'remove'} incomplete ${o.prefix} (no manifest, started over ${ORPHAN_HOURS} h ago)`);
  run.report({ retentionDays: days, wouldDelete: plan.delete.map((d) => d.id), wouldRemoveIncomplete: orphans.map((o) => o.id), kept: plan.keep.length, skipped: scan.problems.map((p) => p.key) });
  if (plan.delete.length === 0 && orphans.length === 0) return { figures: { deleted: [], removedIncomplete: [] } };
  const deleted: string[] = [];
  await run.step(`delete ${plan.delete.length} expired backup(s) and ${orphans.length} incomplete folder(s)`, async () => {
    for (const d of plan.delete) {
      let lock: Lock;
      try {
        lock = await acquireFileLock('backup', backupLockKey(repo.url, env, d.id), run.id);
      } catch (error) {
        if (!(error instanceof LockHeldError)) throw error;
        run.warn(`kept ${d.id}: a restore is reading it (${error.message})`);
        continue;
      }
      deleted.push(d.id);
      const prefix = `${env}/${d.store}/${d.id}/`;
      const keys = await repo.list(prefix);
      // Manifest first: from that moment the backup no longer exists, even if the rest fails.
      const manifestKey = keys.find((k) => k === `${prefix}manifest.json`);
      if (manifestKey) await repo.remove([manifestKey]);
      await repo.remove(keys.filter((k) => k !== manifestKey));
      await lock.release();
    }
    for (const o of orphans) await repo.remove(o.keys);
  }, { confirm: { action: `delete ${plan.delete.length} backup(s) older than ${days} days and ${orphans.length} incomplete folder(s)`, target: env } });
  return { figures: { deleted, removedIncomplete: run.dryRun ? [] : orphans.map((o) => o.id) } };
}
