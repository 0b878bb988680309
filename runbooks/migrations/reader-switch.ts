import type pg from 'pg';
import { ConfigError, messageOf } from '../engine/errors';
import { withClient } from '../stores/postgres/connect';
import { changeHead } from '../env/chain';
import type { KeyProvider } from '../env/keys';
import { openVault, type Vault } from '../env/open-vault';
import { parseLocation, readLocation, writeLocation, type EnvContent } from '../env/sources';
import { Journal, journalExists } from './journal';
import type { PhaseContext } from './plan';

/**
 * The reader switch at cutover (seed 004: USE_TIMESCALEDB=true): one key
 * set in the env vault the backup phase snapshots (service --env-service,
 * default the plan id), as a new sealed version, and in the live env
 * location (--env-from) when it can be written. Journaled with the version
 * id and the key's previous value, so rollback puts that value back (or
 * removes the key if it was absent) as another version. Re-runs change
 * nothing that is already switched.
 */
export interface ReaderSwitch {
  switched: boolean;
  key: string;
  value: string;
  /** The value before cutover; null when the key was absent. */
  previous?: string | null;
  service?: string;
  vault?: string;
  /** The vault version that carries the switch. */
  versionId?: string;
  /** The live env location also switched (dotenv:, json:, ssm:), if any. */
  live?: string | null;
  /** Why nothing was switched (switched false). */
  reason?: string;
}

type Ctx = PhaseContext<unknown>;

/** Seed 004's feature flag: readers use TimescaleDB (rollback sets it back). */
export const TIMESCALE_READERS = { key: 'USE_TIMESCALEDB', value: 'true' };

/** The vault the backup phase snapshots into, and its key (created only for an empty vault, as env snapshot does). */
async function openEnvVault(ctx: Ctx): Promise<{ vault: Vault; keys: KeyProvider }> {
  const vault = openVault(ctx.settings.backup.config);
  return { vault, keys: vault.keys(vault.keyWouldBeCreated && !(await vault.store.anyVersions())) };
}

const withKey = (entries: [string, string][], key: string, value: string | null): [string, string][] => {
  const out = entries.filter(([k]) => k !== key);
  if (value === null) return out;
  const at = entries.findIndex(([k]) => k === key);
  if (at < 0) return [...out, [key, value]];
  out.splice(at, 0, [key, value]);
  return out;
};

const valueOf = (entries: [string, string][], key: string): string | null => entries.find(([k]) => k === key)?.[1] ?? null;

/** Set (or remove, with null) the key in the live env location; false when it cannot be written (env:). */
async function setLive(ctx: Ctx, spec: string, key: string, value: string | null): Promise<boolean> {
  const loc = parseLocation(spec);
  if (loc.kind === 'env') {
    ctx.run.warn(`${spec} is a process environment and cannot be written: set ${key}${value === null ? ' (remove it)' : `=${value}`} where your readers get their environment`);
    return false;
  }
  const current = await readLocation(loc);
  for (const [, v] of current.entries) ctx.run.masker.addEnvValue(v);
  if (valueOf(current.entries, key) === value) return true;
  await writeLocation(loc, new Map(withKey(current.entries, key, value)));
  return true;
}

/** Cutover: switch readers by `key=value` in the env vault (and the live location). */
export async function switchReaders(ctx: Ctx, key: string, value: string): Promise<{ readerSwitch: ReaderSwitch }> {
  const { envFrom, envService } = ctx.settings.backup;
  const notSwitched = (reason: string) => {
    ctx.run.warn(`readers NOT switched: ${key}=${value} was not written anywhere (${reason}); set it yourself where your readers read it`);
    return { readerSwitch: { switched: false, key, value, reason } };
  };
  if (!envFrom && !envService) return notSwitched('no env configured: pass --env-from (the env your readers use) and/or --env-service (its service in the env vault)');
  const service = envService ?? ctx.plan.id;
  let opened: { vault: Vault; keys: KeyProvider };
  try {
    opened = await openEnvVault(ctx);
  } catch (error) {
    if (error instanceof ConfigError) return notSwitched(`env vault: ${messageOf(error)}`);
    throw error;
  }
  // A re-run keeps the previous value the first attempt journaled (the vault may already say `value`).
  const earlier = ctx.recorded('cutover').readerSwitch as ReaderSwitch | undefined;
  let base: ReaderSwitch | undefined;
  let versionId: string | undefined;
  // Read and append under the vault's lock: a version someone appends meanwhile is built upon, never lost.
  const appended = await changeHead(opened.vault.store, opened.keys, service, ctx.run.masker, async (head) => {
    let entries = head?.entries;
    let format: EnvContent['format'] = head?.version.sourceFormat ?? 'dotenv';
    if (!entries && envFrom) {
      const live = await readLocation(parseLocation(envFrom));
      for (const [, v] of live.entries) ctx.run.masker.addEnvValue(v);
      [entries, format] = [live.entries, live.format];
    }
    if (!entries) return undefined;
    const previous = earlier?.switched && earlier.previous !== undefined ? earlier.previous : valueOf(entries, key);
    base = { switched: true, key, value, previous, service, vault: opened.vault.store.label, live: envFrom ?? null };
    versionId = head?.version.id;
    if (head && valueOf(entries, key) === value) return undefined;
    await ctx.note({ readerSwitch: base });
    return { service, content: { entries: withKey(entries, key, value), format }, source: `migrate ${ctx.plan.id}`, message: `cutover of ${ctx.plan.id}: readers switched (${key}=${value})`, kind: 'snapshot' };
  }).catch((error: unknown) => {
    if (error instanceof ConfigError) return notSwitched(`env vault: ${messageOf(error)}`);
    throw error;
  });
  if (appended && 'readerSwitch' in appended) return appended;
  if (!base) return notSwitched(`service ${service} has no version in the vault ${opened.vault.store.label} and no --env-from was given`);
  versionId = appended?.id ?? versionId;
  const liveSwitched = envFrom ? await setLive(ctx, envFrom, key, value) : false;
  const readerSwitch: ReaderSwitch = { ...(base as ReaderSwitch), versionId: versionId!, live: liveSwitched ? envFrom! : null };
  await ctx.note({ readerSwitch });
  const previous = readerSwitch.previous;
  ctx.run.info(`readers switched: ${key}=${value} in the env vault ${opened.vault.store.label}, service ${service} (version ${versionId})${liveSwitched ? ` and in ${envFrom}` : ''}; it was ${previous === null || previous === undefined ? 'absent' : previous}`);
  return { readerSwitch };
}

/** Cutover's rollback: the key goes back to its journaled previous value (removed if it was absent). */
export async function switchReadersBack(ctx: Ctx): Promise<void> {
  const rec = ctx.recorded('cutover').readerSwitch as ReaderSwitch | undefined;
  if (!rec?.switched || !rec.service) return;
  const previous = rec.previous ?? null;
  const { vault, keys } = await openEnvVault(ctx);
  let versionId: string | undefined;
  const appended = await changeHead(vault.store, keys, rec.service, ctx.run.masker, async (head) => {
    const entries = head?.entries ?? [];
    versionId = head?.version.id;
    if (valueOf(entries, rec.key) === previous) return undefined;
    return { service: rec.service!, content: { entries: withKey(entries, rec.key, previous), format: head?.version.sourceFormat ?? 'dotenv' }, source: `migrate ${ctx.plan.id}`, message: `rollback of ${ctx.plan.id}'s cutover: readers switched back (${rec.key}${previous === null ? ' removed' : `=${previous}`})`, kind: 'snapshot' };
  });
  versionId = appended?.id ?? versionId;
  if (rec.live) {
    // The vault holds the truth; a live file that moved or went away is reported, not a reason to stop the rollback.
    await setLive(ctx, rec.live, rec.key, previous).catch((error: unknown) => {
      if (!(error instanceof ConfigError)) throw error;
      ctx.run.warn(`readers switched back in the vault, but ${rec.live} was not written: ${messageOf(error)}; set ${rec.key}${previous === null ? ' (remove it)' : `=${previous}`} there yourself`);
    });
  }
  await ctx.note({ readerSwitchBack: { key: rec.key, value: previous, service: rec.service, versionId } });
  ctx.run.info(`readers switched back: ${rec.key}${previous === null ? ' removed' : `=${previous}`} in the env vault, service ${rec.service} (version ${versionId})${rec.live ? ` and in ${rec.live}` : ''}`);
}

/** `migrate status`: the reader switch the journal holds for this plan and scope (undefined when none). */
export async function readerSwitchStatus(plan: string, scope: string, targetUrl: string): Promise<ReaderSwitch | undefined> {
  return withClient(targetUrl, async (c: pg.Client) => {
    if (!(await journalExists(c))) return undefined;
    const state = await new Journal(c, plan, scope, 'status').state();
    return state.get('cutover')?.details.readerSwitch as ReaderSwitch | undefined;
  }, '--target-url');
}
