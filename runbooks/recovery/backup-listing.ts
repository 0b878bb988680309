import type { CliContext, CommandResult } from '../engine/cli';
import { stringFlag } from '../engine/cli';
import { UsageError } from '../engine/errors';
import { formatBytes } from '../engine/format';
import type { Run } from '../engine/run';
import { sourceLabel } from '../repository/backup-source';
import { isGood, readManifest, scanBackups, STORES, type BackupEntry, type Manifest, type RepositoryScan, type Store } from '../repository/manifest';
import { resolveBackupId } from '../repository/resolve-id';
import { recoveryContext } from './context';

/**
 * A backup's size as the backup step reported it: the bytes it stored.
 * Logical, RDB and snapshot backups: the sum of their files (what was
 * uploaded). Physical: pgBackRest's repository delta for the set (its
 * files live in pgBackRest's repository; tickvault holds only a copy of
 * pgBackRest's manifest).
 */
export function backupBytes(m: Manifest): number {
  if (m.kind === 'physical' && typeof m.details.repoBytes === 'number') return m.details.repoBytes;
  return m.files.reduce((sum, f) => sum + f.size, 0);
}

/** One backup as list, info, the backup step and restores describe it. */
export const summarise = (m: Manifest) => ({
  id: m.id,
  store: m.store,
  kind: m.kind,
  source: sourceLabel(m),
  startedAt: m.startedAt,
  finishedAt: m.finishedAt,
  recoveryPoint: m.recoveryPoint ?? null,
  dataUpTo: m.dataUpTo,
  bytes: backupBytes(m),
  files: m.files.length,
  tables: m.tables.length,
  ...(m.details.label ? { label: String(m.details.label) } : {}),
});

/** One line for a run's log: what was made or used, with the same size list and info show. */
export const describeBackup = (m: Manifest): string =>
  `${m.id}${m.details.label ? ` (pgBackRest ${String(m.details.label)})` : ''} · ${m.kind} of ${sourceLabel(m)} · ${formatBytes(backupBytes(m))}`;

interface PitrInfo {
  /** Oldest and newest time a point-in-time restore can reach (the stanza's window). */
  window: { oldest: string; newest: string | null; newestFrom: string | null } | null;
  /** pgBackRest labels still in its repository (an expired set cannot be restored). */
  labels: Set<string>;
  problem?: string;
}

/** The PITR window from pgBackRest, when physical backups are listed and a stanza is configured. */
async function pitrInfo(ctx: CliContext, entries: BackupEntry[]): Promise<PitrInfo | undefined> {
  if (!entries.some((e) => e.manifest.kind === 'physical')) return undefined;
  const configFile = ctx.settings.get('PGBACKREST_CONFIG');
  const stanza = ctx.settings.get('PGBACKREST_STANZA');
  if (!configFile || !stanza) return { window: null, labels: new Set(), problem: 'PGBACKREST_CONFIG/PGBACKREST_STANZA not set: PITR window unknown' };
  const { pgbackrestInfo } = await import('../stores/postgres/pgbackrest');
  const { pitrWindow } = await import('../stores/postgres/pitr-window');
  try {
    const target = { configFile, stanza };
    const info = await pgbackrestInfo(target);
    const labels = new Set(info.backup.map((b) => b.label));
    if (!info.backup.length) return { window: null, labels, problem: `stanza "${stanza}" has no backups` };
    const w = await pitrWindow(target, info, ctx.settings.get('DATABASE_URL', stringFlag(ctx.flags, 'database-url')));
    return { window: { oldest: w.oldest.toISOString(), newest: w.newest?.toISOString() ?? null, newestFrom: w.newestFrom ?? null }, labels };
  } catch (error) {
    return { window: null, labels: new Set(), problem: `pgbackrest info: ${(error as Error).message.split('\n')[0]}` };
  }
}

const verifiedText = (e: BackupEntry): string => (e.verification ? (e.verification.ok ? `ok ${e.verification.at.slice(0, 16).replace('T', ' ')}` : 'FAILED') : 'not yet');

/** A physical backup's own window: from its end to the stanza's newest archived WAL (if pgBackRest still has it). */
function backupPitr(m: Manifest, pitr: PitrInfo | undefined): { from: string; to: string | null; restorable: boolean } | null {
  if (m.kind !== 'physical' || !pitr) return null;
  const label = String(m.details.label);
  const restorable = pitr.window ? pitr.labels.has(label) : false;
  return { from: m.recoveryPoint ?? String(m.details.backupStop ?? m.finishedAt), to: restorable ? pitr.window!.newest : null, restorable };
}

const row = (e: BackupEntry, pitr: PitrInfo | undefined) => ({
  ...summarise(e.manifest),
  good: isGood(e),
  verified: e.verification ? e.verification.ok : null,
  verification: e.verification ?? null,
  pitr: backupPitr(e.manifest, pitr),
});

/** Aligned columns under a header row; the last column is free width. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const short = (iso: string | null | undefined): string => (iso ? iso.slice(0, 19).replace('T', ' ') : '-');

/** Damaged or unauthentic files, and folders without a manifest: named, never fatal for the others. */
export function reportScan(run: Run, scan: RepositoryScan, orphanHours: number): void {
  for (const p of scan.problems) run.warn(`skipped ${p.key}: ${p.problem}`, { key: p.key });
  for (const i of scan.incomplete) run.warn(`incomplete backup ${i.prefix}: no manifest (${i.keys.length} file(s)); "backup prune" removes it once it is ${orphanHours} h old`, { key: i.prefix });
}

export async function listCommand(ctx: CliContext, orphanHours: number): Promise<CommandResult> {
  const { run, flags, settings } = ctx;
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const store = stringFlag(flags, 'store') as Store | undefined;
  if (store && !STORES.includes(store)) throw new UsageError(`--store must be one of ${STORES.join(', ')}`);
  const scan = await run.step('read manifests', () => scanBackups(repo, env, store), { readOnly: true });
  reportScan(run, scan, orphanHours);
  const pitr = await pitrInfo(ctx, scan.entries);
  if (pitr?.problem) run.warn(pitr.problem);
  const rows = scan.entries.map((e) => row(e, pitr));
  run.print(
    table(
      ['ID', 'PGBACKREST LABEL', 'KIND', 'SOURCE', 'SIZE', 'FINISHED (UTC)', 'VERIFIED', 'RECOVERABLE (UTC)'],
      rows.map((r) => [r.id, r.label ?? '-', `${r.store} ${r.kind}`, r.source, formatBytes(r.bytes), short(r.finishedAt), r.verified === null ? 'not yet' : r.verified ? 'ok' : 'FAILED', r.pitr ? (r.pitr.restorable ? `${short(r.pitr.from)} → ${short(r.pitr.to)}` : 'expired in pgBackRest') : short(r.recoveryPoint)]),
    ),
  );
  if (pitr?.window) run.print(`\nPITR window (pgBackRest stanza ${settings.get('PGBACKREST_STANZA')}): ${short(pitr.window.oldest)} → ${short(pitr.window.newest)} UTC${pitr.window.newestFrom ? ` (newest from ${pitr.window.newestFrom})` : ''}`);
  return {
    figures: {
      repo: repo.url,
      env,
      count: rows.length,
      backups: rows,
      ...(pitr ? { pitrWindow: pitr.window } : {}),
      problems: scan.problems,
      incomplete: scan.incomplete.map((i) => ({ id: i.id, store: i.store, prefix: i.prefix, files: i.keys.length })),
    },
  };
}

export async function infoCommand(ctx: CliContext): Promise<CommandResult> {
  const { run, args, flags, settings } = ctx;
  if (!args[0]) throw new UsageError('info needs a backup id, a unique prefix of one, or "latest --store s" (see: backup list)');
  const { repo, env } = recoveryContext(settings, stringFlag(flags, 'repo'));
  const store = stringFlag(flags, 'store') as Store | undefined;
  if (store && !STORES.includes(store)) throw new UsageError(`--store must be one of ${STORES.join(', ')}`);
  const id = await resolveBackupId(repo, env, args[0], { flag: 'info', ...(store ? { store } : {}) });
  const manifest = await run.step('read manifest', () => readManifest(repo, env, id), { readOnly: true });
  const scan = await scanBackups(repo, env, manifest.store);
  const entry = scan.entries.find((e) => e.manifest.id === id) ?? { manifest };
  const pitr = await pitrInfo(ctx, [entry]);
  if (pitr?.problem) run.warn(pitr.problem);
  const r = row(entry, pitr);
  const lines: [string, string][] = [
    ['id', r.id],
    ...(r.label ? ([['pgBackRest label', r.label]] as [string, string][]) : []),
    ['kind', `${r.store} ${r.kind}`],
    ['source', r.source],
    ['size', `${formatBytes(r.bytes)} (${r.bytes.toLocaleString('en-US')} bytes${manifest.kind === 'physical' ? ', pgBackRest repository delta' : `, ${r.files} files`})`],
    ['started', short(r.startedAt)],
    ['finished', short(r.finishedAt)],
    ['recovery point', short(r.recoveryPoint)],
    ['data up to', short(r.dataUpTo)],
    ['tables', String(r.tables)],
    ['verified', verifiedText(entry)],
    ...(r.pitr ? ([['recoverable', r.pitr.restorable ? `${short(r.pitr.from)} → ${short(r.pitr.to)} UTC` : 'no: expired in pgBackRest (or pgBackRest not reachable)']] as [string, string][]) : []),
    ['tool', `${manifest.tool.name} ${manifest.tool.version}`],
    ['server', manifest.server.version],
  ];
  run.print(table(['FIELD', 'VALUE'], lines.map(([k, v]) => [k, v])));
  return { figures: { repo: repo.url, env, backup: { ...r, tool: manifest.tool, server: manifest.server, checks: manifest.checks }, ...(pitr ? { pitrWindow: pitr.window } : {}) } };
}
