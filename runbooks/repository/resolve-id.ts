import { UsageError } from '../engine/errors';
import { isBackupId } from './ids';
import { isGood, scanBackups, STORES, type BackupEntry, type Store } from './manifest';
import type { Repository } from './repository';

/** What an operator may type for a backup: letters, digits and dashes (an id, a prefix of one, a pgBackRest label). */
const BACKUP_SPEC = /^[A-Za-z0-9_-]{1,80}$/;
const PGBACKREST_LABEL = /^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/;

export interface ResolveOptions {
  /** The flag or argument it came from, for messages ("--backup", "verify"). */
  flag: string;
  /** Only backups of this store (restore postgres never takes a redis backup). */
  store?: Store;
  /** Only backups of this kind (latest: logical or physical). */
  kind?: string;
  /** Entries considered for "latest" (restore narrows to the database being restored). */
  scope?: (entry: BackupEntry) => boolean;
}

/**
 * A backup as the operator names it: "latest" (the newest good backup),
 * a full id, any unique prefix of an id, or a physical backup's pgBackRest
 * label. Ambiguous or unknown names are usage errors (exit 2) that list
 * what they could mean, before anything is touched.
 */
export async function resolveBackupId(repo: Repository, env: string, spec: string, opts: ResolveOptions): Promise<string> {
  if (!BACKUP_SPEC.test(spec)) throw new UsageError(`${opts.flag}: "${spec.slice(0, 80)}" is not a backup id, prefix or "latest" (letters, digits and - only; see "backup list")`);
  // A full id needs no listing: it is read (and authenticated) directly by the caller.
  if (spec !== 'latest' && isBackupId(spec) && (!opts.store || spec.startsWith(`${opts.store}-`))) return spec;
  const entries = (await scanBackups(repo, env, opts.store)).entries.filter((e) => !opts.kind || e.manifest.kind === opts.kind);
  if (spec === 'latest') {
    if (!opts.store) throw new UsageError(`${opts.flag} latest needs --store ${STORES.join('|')}`);
    const newest = entries.filter((e) => isGood(e) && (!opts.scope || opts.scope(e))).at(-1);
    if (!newest) throw new UsageError(`${opts.flag} latest: no good ${opts.store}${opts.kind ? ` ${opts.kind}` : ''} backup in ${repo.url} (env ${env})`);
    return newest.manifest.id;
  }
  const byLabel = PGBACKREST_LABEL.test(spec) ? entries.filter((e) => e.manifest.details.label === spec) : [];
  const matches = byLabel.length ? byLabel : entries.filter((e) => e.manifest.id.startsWith(spec));
  if (matches.length === 1) return matches[0]!.manifest.id;
  const where = `${opts.store ? `${opts.store} ` : ''}backups in ${repo.url} (env ${env})`;
  if (matches.length === 0) throw new UsageError(`${opts.flag}: no ${where} start with "${spec}"`, { hint: 'list them with: tickvault backup list' });
  const shown = matches.slice(-10).map((e) => e.manifest.id);
  throw new UsageError(`${opts.flag}: "${spec}" matches ${matches.length} backups: ${shown.join(', ')}${matches.length > shown.length ? ', …' : ''}; type more of the id`, { candidates: matches.map((e) => e.manifest.id) });
}
