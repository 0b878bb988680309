import type { CliContext, CommandResult } from '../engine/cli';
import { numberFlag, stringFlag } from '../engine/cli';
import { postgresUrl, validated } from '../engine/config';
import { TargetMissedError, UsageError } from '../engine/errors';
import type { Run } from '../engine/run';
import { backupLockKey, isGood, listBackups, readManifest, type Manifest, type Store } from '../repository/manifest';
import { sourceLabel } from '../repository/backup-source';
import { resolveBackupId } from '../repository/resolve-id';
import { describeBackup } from './backup-listing';
import { databaseName, withDatabase } from '../stores/postgres/binaries';
import { withClient } from '../stores/postgres/connect';
import { requireConfig } from '../stores/postgres/pgbackrest';
import { sourceIdentity } from '../stores/postgres/server-info';
import { recoveryContext } from './context';
import { postgresIdentity, serviceIdentity } from './target-identity';
import { measureObjectives, SCENARIOS, type RecoveryPoint, type Scenario } from './objectives';

function parseTime(flag: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--${flag} must be an ISO timestamp, got "${value}"`);
  return date;
}

/** Which backups may stand for the data being restored (restore --latest never takes another database's). */
interface Scope {
  matches(manifest: Manifest): boolean;
  describe: string;
}

/**
 * The identity of the database being restored: its cluster's system
 * identifier and its name. The database may be gone (that may be the
 * incident), so the cluster is asked through its maintenance database, and
 * a server that is down leaves host:port to go by.
 */
async function postgresScope(url: string): Promise<Scope> {
  const database = databaseName(url);
  const host = `${new URL(url).hostname}:${new URL(url).port || 5432}`;
  const id = await withClient(withDatabase(url, 'postgres'), (c) => sourceIdentity(c, url), 'DATABASE_URL').catch(() => ({ host, database, systemIdentifier: undefined }));
  const sameCluster = (m: Manifest) => {
    if (m.source?.systemIdentifier && id.systemIdentifier) return m.source.systemIdentifier === id.systemIdentifier;
    return !m.source?.host || m.source.host === host;
  };
  return {
    matches: (m) => (m.kind === 'physical' ? sameCluster(m) : (m.source?.database ?? m.details.database) === database && sameCluster(m)),
    describe: `database "${database}" on ${id.systemIdentifier ? `cluster ${id.systemIdentifier}` : host}`,
  };
}

/** --backup ID, or --latest: the newest good backup of that store (and kind) and source. */
async function chooseBackup(ctx: CliContext, store: Store, kind?: string, scope?: Scope): Promise<Manifest> {
  const { repo, env } = recoveryContext(ctx.settings, stringFlag(ctx.flags, 'repo'));
  const spec = stringFlag(ctx.flags, 'backup');
  const id = spec && spec !== 'latest' ? await resolveBackupId(repo, env, spec, { flag: '--backup', store }) : undefined;
  let manifest: Manifest;
  if (id) {
    manifest = await readManifest(repo, env, id);
    if (manifest.store !== store) throw new UsageError(`backup ${id} is a ${manifest.store} backup, not ${store}`);
  } else {
    // A damaged or unauthentic manifest is named and skipped, never chosen and never fatal.
    const good = (await listBackups(repo, env, store, (p) => ctx.run.warn(`skipped ${p.key}: ${p.problem}`))).filter((e) => isGood(e) && (!kind || e.manifest.kind === kind));
    // Only backups of the data being restored: never another database's newer one.
    const mine = scope ? good.filter((e) => scope.matches(e.manifest)) : good;
    const latest = mine.at(-1);
    if (!latest) {
      const others = good.length ? ` (${good.length} of other sources: ${[...new Set(good.map((e) => sourceLabel(e.manifest)))].slice(0, 3).join(', ')}; pick one with --backup ID)` : '';
      throw new UsageError(`no good ${store}${kind ? ` ${kind}` : ''} backup${scope ? ` of ${scope.describe}` : ''} in ${repo.url} (env ${env})${others}`);
    }
    manifest = latest.manifest;
  }
  // Held while the backup is read, so prune cannot delete it under a restore.
  if (!ctx.run.dryRun) await ctx.run.lock(backupLockKey(repo.url, env, manifest.id));
  ctx.run.info(`restoring from backup ${describeBackup(manifest)}`, { backupId: manifest.id, ...(manifest.details.label ? { label: manifest.details.label } : {}) });
  ctx.run.report({ backupId: manifest.id, ...(manifest.details.label ? { label: String(manifest.details.label) } : {}) });
  return manifest;
}

/**
 * The backup a point-in-time restore starts from: pgBackRest takes the
 * newest set that ended before the target time; named here so the run says
 * which (informational: pgBackRest makes the choice).
 */
async function pitrBase(ctx: CliContext, toTime: Date): Promise<Manifest | undefined> {
  const { repo, env } = recoveryContext(ctx.settings, stringFlag(ctx.flags, 'repo'));
  const physical = (await listBackups(repo, env, 'postgres')).filter((e) => e.manifest.kind === 'physical' && isGood(e));
  const base = physical.filter((e) => (e.manifest.recoveryPoint ?? e.manifest.finishedAt) <= toTime.toISOString()).at(-1)?.manifest;
  if (base) {
    ctx.run.info(`point-in-time restore to ${toTime.toISOString()} starts from backup ${describeBackup(base)}`, { backupId: base.id, label: base.details.label });
    ctx.run.report({ backupId: base.id, label: String(base.details.label) });
  }
  return base;
}

/** A manifest's recovery point: recorded by the backup, or what an older manifest lets us tell. */
function manifestRecoveryPoint(manifest: Manifest): RecoveryPoint {
  if (manifest.recoveryPoint) return { at: manifest.recoveryPoint, basis: { logical: 'snapshot time of the dump', physical: 'end of the backup set', rdb: 'RDB save time', snapshot: 'snapshot creation time' }[manifest.kind] };
  if (manifest.kind === 'logical' && typeof manifest.details.snapshotAt === 'string') return { at: manifest.details.snapshotAt, basis: 'snapshot time of the dump' };
  if (manifest.kind === 'rdb' && manifest.dataUpTo) return { at: manifest.dataUpTo, basis: 'RDB save time' };
  if (manifest.kind === 'snapshot') return { at: manifest.startedAt, basis: 'backup start (snapshots were created after it)' };
  return { at: null, basis: `unknown: backup ${manifest.id} was made before tickvault recorded recovery points` };
}

/** RTO/RPO against the scenario's targets; a missed target fails the run with exit 3. An unknown RPO is reported, not a miss. */
function judge(run: Run, scenario: Scenario, incidentTime: Date | undefined, recoveryPoint: RecoveryPoint, newestData: string | null, override?: string): void {
  const report = measureObjectives({ scenario, startedAt: run.startedAt, verifiedAt: Date.now(), incidentTime, recoveryPoint, newestData, override });
  run.report({ objectives: report, rtoMs: report.rtoMs, rpoMs: report.rpoMs, recoveryPoint: report.recoveryPoint });
  const rpo = report.rpoMs === null ? `unknown (${report.recoveryPoint.basis})` : `${Math.round(report.rpoMs / 1000)} s from ${report.recoveryPoint.basis} ${report.recoveryPoint.at}`;
  run.info(`RTO ${Math.round(report.rtoMs / 1000)} s (target ${report.rtoTargetMs / 60000} min) · RPO ${rpo} (target ${report.rpoTargetMs / 60000} min) · scenario ${scenario}`);
  if (report.rpoMet === null) run.warn(`RPO not measured: ${report.recoveryPoint.basis}`);
  const missed = [...(report.rtoMet ? [] : ['RTO']), ...(report.rpoMet === false ? ['RPO'] : [])];
  if (missed.length) throw new TargetMissedError(`${missed.join(' and ')} target missed for scenario "${scenario}"`);
}

export async function restoreCommand(ctx: CliContext): Promise<CommandResult> {
  const { run, flags, settings } = ctx;
  const store = ctx.command as Store;
  // --backup latest is the same as --latest (chooseBackup); any other --backup is an id, a unique prefix or a pgBackRest label.
  const backupSpec = stringFlag(flags, 'backup') === 'latest' ? undefined : stringFlag(flags, 'backup');
  const toTime = parseTime('to-time', stringFlag(flags, 'to-time'));
  const incidentTime = parseTime('incident-time', stringFlag(flags, 'incident-time'));
  const inPlace = Boolean(flags['in-place']);
  const targetFlag = stringFlag(flags, 'target-url');
  if ([Boolean(flags.latest), Boolean(stringFlag(flags, 'backup')), Boolean(toTime)].filter(Boolean).length !== 1) throw new UsageError('choose exactly one of --latest, --backup <id>, --to-time <ISO timestamp>');
  if (inPlace && targetFlag) throw new UsageError('--in-place and --target-url exclude each other');
  const scenarioFlag = stringFlag(flags, 'scenario') as Scenario | undefined;
  if (scenarioFlag && !SCENARIOS.includes(scenarioFlag)) throw new UsageError(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  const override = settings.get('TICKVAULT_OBJECTIVES');
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  // Resolved before anything else, so a physical backup is recognised by a prefix or label too.
  const backupId = backupSpec ? await resolveBackupId(repo, env, backupSpec, { flag: '--backup', store }) : undefined;

  if (store === 'postgres') {
    const sourceUrl = validated('DATABASE_URL', postgresUrl, settings.require('DATABASE_URL', stringFlag(flags, 'database-url'), '--database-url'));
    const kindFlag = stringFlag(flags, 'kind');
    if (toTime || kindFlag === 'physical' || (backupId && backupId.startsWith('postgres-physical-'))) {
      if (inPlace || targetFlag) throw new UsageError('physical and point-in-time restores go into a new cluster; --in-place/--target-url do not apply (repoint clients to the reported targetUrl)');
      const manifest = toTime ? await pitrBase(ctx, toTime) : await chooseBackup(ctx, 'postgres', 'physical', await postgresScope(sourceUrl));
      const target = requireConfig({ configFile: settings.get('PGBACKREST_CONFIG'), stanza: settings.get('PGBACKREST_STANZA') });
      await run.lock(`pgbackrest:${target.stanza}`);
      // --latest replays every archived WAL segment; --backup stops at that backup's end.
      const { physicalRestore } = await import('../stores/postgres/physical-restore');
      const { localClusterProvisioner } = await import('./local-clusters');
      const result = await physicalRestore(run, { pgbackrest: target, sourceUrl, provisioner: localClusterProvisioner(), ...(toTime ? { toTime } : {}), ...(backupId && !toTime ? { label: String(manifest!.details.label) } : {}) });
      run.report({ backupId: manifest?.id ?? null, ...(manifest ? { label: String(manifest.details.label) } : {}), kind: 'physical', targetUrl: result.targetUrl, dataDir: result.dataDir, recoveryTarget: result.recoveryTarget, lastReplayedCommit: result.lastReplayedCommit, tables: result.tables, rows: result.rows, verified: ['pgBackRest checksums during restore', 'recovery reached the target and promoted', 'every table readable'], fingerprintCompared: false });
      if (!run.dryRun) judge(run, scenarioFlag ?? (toTime ? 'corruption' : 'full-failure'), incidentTime, result.recoveryPoint, result.newestData, override);
      return { figures: {} };
    }
    if (!inPlace && !targetFlag) throw new UsageError('a logical restore needs --target-url URL (a new or empty database) or --in-place');
    const manifest = await chooseBackup(ctx, 'postgres', 'logical', await postgresScope(sourceUrl));
    const targetUrl = inPlace ? sourceUrl : validated('--target-url', postgresUrl, targetFlag);
    if (!run.dryRun) await run.lock(await postgresIdentity(targetUrl));
    if (inPlace) {
      await run.step('confirm in-place restore', async () => undefined, {
        confirm: { action: `replace database "${databaseName(targetUrl)}" with backup ${manifest.id} (the current one is kept renamed)`, target: databaseName(targetUrl) },
      });
    }
    const { logicalRestore } = await import('../stores/postgres/logical-restore');
    const result = await logicalRestore(run, { repo, manifest, targetUrl, inPlace, jobs: numberFlag(flags, 'jobs', 2), timescaleUpdate: Boolean(flags['timescale-update']) });
    run.report({ backupId: manifest.id, kind: 'logical', targetUrl: result.targetUrl, tablesVerified: result.tablesVerified, rowsVerified: result.rowsVerified, previousDatabase: result.previousDatabase ?? null, resumed: result.resumed, verified: ['sha256 of every file', 'row count and content hash of every table'], fingerprintCompared: true });
    if (!run.dryRun) judge(run, scenarioFlag ?? 'deletion', incidentTime, manifestRecoveryPoint(manifest), manifest.dataUpTo, override);
    return { figures: {} };
  }

  if (toTime) throw new UsageError(`--to-time applies to PostgreSQL only; ${store} restores whole backups`);
  if (store === 'redis') {
    const manifest = await chooseBackup(ctx, 'redis');
    if (manifest.details.elasticache) {
      // An ElastiCache export restores into a new replication group (stores/redis/elasticache.ts).
      const group = settings.get('ELASTICACHE_RESTORE_GROUP');
      if (!group) throw new UsageError(`backup ${manifest.id} is an ElastiCache export: set ELASTICACHE_RESTORE_GROUP to the id of the new replication group to create`);
      const result = await (await import('../stores/redis/elasticache')).elasticacheRestore(run, { manifest, targetGroupId: group, region: settings.get('AWS_REGION') });
      run.report({ backupId: manifest.id, kind: 'elasticache', ...result });
      return { figures: { backupId: manifest.id, ...result } };
    }
    const redisUrl = targetFlag ?? settings.require('REDIS_URL', stringFlag(flags, 'redis-url'), '--redis-url');
    if (!run.dryRun) await run.lock(await serviceIdentity('redis', redisUrl));
    const { rdbRestore } = await import('../stores/redis/rdb-restore');
    const { localRedisProvisioner } = await import('./local-redis');
    const result = await rdbRestore(run, { repo, manifest, redisUrl, inPlace, servers: localRedisProvisioner() });
    run.report({ backupId: manifest.id, kind: 'rdb', targetUrl: result.targetUrl, dbsize: result.dbsize, previousRdb: result.previousRdb ?? null, fingerprintCompared: result.fingerprintCompared, verified: ['sha256', 'redis-check-rdb', 'DBSIZE', ...(result.fingerprintCompared ? ['key-sample fingerprint'] : [])] });
    if (!run.dryRun) judge(run, scenarioFlag ?? 'deletion', incidentTime, manifestRecoveryPoint(manifest), manifest.dataUpTo, override);
    return { figures: {} };
  }

  const manifest = await chooseBackup(ctx, 'qdrant');
  const url = targetFlag ?? settings.require('QDRANT_URL', stringFlag(flags, 'qdrant-url'), '--qdrant-url');
  if (!targetFlag && !inPlace) throw new UsageError('a Qdrant restore needs --target-url URL (another Qdrant) or --in-place (QDRANT_URL)');
  if (!run.dryRun) await run.lock(await serviceIdentity('qdrant', url));
  const { snapshotRestore } = await import('../stores/qdrant/snapshot-restore');
  const result = await snapshotRestore(run, { repo, manifest, target: { url, apiKey: settings.get('QDRANT_API_KEY') }, inPlace });
  run.report({ backupId: manifest.id, kind: 'snapshot', targetUrl: result.targetUrl, collections: result.collections, points: result.points, verified: ['sha256', 'exact points count per collection'] });
  if (!run.dryRun) judge(run, scenarioFlag ?? 'full-failure', incidentTime, manifestRecoveryPoint(manifest), manifest.dataUpTo, override);
  return { figures: {} };
}
