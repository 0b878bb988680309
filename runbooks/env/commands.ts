import type { CliContext, CommandResult } from '../engine/cli';
import { stringFlag } from '../engine/cli';
import { ConfigError, RefusedError, UsageError, VerificationError } from '../engine/errors';
import type { Run } from '../engine/run';
import { appendVersion, checkService, type ServiceState } from './chain';
import { openVault, type Vault } from './open-vault';
import { parseLocation, readLocation, renderExport, writeExclusive, writeLocation, type EnvContent } from './sources';
import { pickVersion, validService, versionInfo } from './store';
import { diffEntries, isEmptyDiff, openVersion, renderDiff } from './vault';

/** Name every damaged version and carry on with the others. */
function reportProblems(run: Run, service: string, state: ServiceState): void {
  for (const p of state.problems) run.warn(`${service}: ${p.name}: ${p.problem}`, { version: p.name });
}

/** A new local key beside versions sealed with another would orphan them: refuse. */
async function refuseNewKeyBesideOthers(vault: Vault): Promise<void> {
  if (!vault.keyWouldBeCreated) return;
  if (await vault.store.anyVersions()) {
    throw new RefusedError(`the vault key ${vault.keyFile} does not exist, but ${vault.store.label} holds versions sealed with another key: not creating a new one`, {
      hint: 'point TICKVAULT_ENV_KEY_FILE at the key those versions were sealed with',
    });
  }
}

/** The first snapshot made a key: without it no version opens, so say where it is, loudly. */
function announceNewKey(run: Run, keyFile: string): void {
  run.warn(`a new vault key was created: ${keyFile} (mode 0600)`);
  run.warn('back it up now, apart from the vault (a password manager or a secrets store): without this key no version can be opened');
}

/** `list` without --service: the services the vault holds. */
async function listServices(run: Run, vault: Vault): Promise<CommandResult> {
  const services = await run.step(`list services in ${vault.store.label}`, () => vault.store.services(), { readOnly: true });
  for (const name of services) run.info(name);
  if (services.length === 0) run.info(`no services in ${vault.store.label} yet; take a first version with "tickvault env snapshot --service NAME --from .env"`);
  else run.info(`versions of one: tickvault env list --service ${services[0]}`);
  return { figures: { vault: vault.store.label, services } };
}

export async function envCommand(ctx: CliContext): Promise<CommandResult> {
  const { run, flags, command } = ctx;
  const vault = openVault(ctx.settings, stringFlag(flags, 'vault'));
  if (command === 'list' && stringFlag(flags, 'service') === undefined) return listServices(run, vault);
  const service = validService(stringFlag(flags, 'service'));
  const reveal = Boolean(flags.reveal);

  if (command === 'snapshot') {
    const from = parseLocation(stringFlag(flags, 'from') ?? '');
    const content = await run.step(`read ${from.label}`, () => readLocation(from), { readOnly: true });
    for (const [, value] of content.entries) run.masker.addEnvValue(value);
    await refuseNewKeyBesideOthers(vault);
    const newKey = vault.keyWouldBeCreated;
    const sealed = await run.step('seal and append a new version', async (step) => {
      const version = await appendVersion(vault.store, vault.keys(true), { service, content, source: from.label, message: stringFlag(flags, 'message') ?? '', kind: 'snapshot' }, run.masker);
      step.note(`${content.entries.length} keys → ${vault.store.label}`);
      return version;
    });
    if (!sealed) return {};
    run.info(`${service}: version ${sealed.seq} (${sealed.id}), ${content.entries.length} keys, in ${vault.store.label}`);
    if (newKey && !run.dryRun) announceNewKey(run, vault.keyFile!);
    return { figures: { service, version: sealed.seq, id: sealed.id, keys: content.entries.length, vault: vault.store.label, ...(newKey && !run.dryRun ? { newKeyFile: vault.keyFile } : {}) } };
  }

  const keys = vault.keys(false);
  const state = await run.step('read and verify every version', () => checkService(vault.store, keys, service, run.masker), { readOnly: true });
  reportProblems(run, service, state);
  const versions = state.versions;
  /** A version by ref; one found damaged or misplaced in storage is refused by name (exit 3). */
  const pick = (ref: string | undefined) => {
    const stored = state.problems.find((p) => p.name === ref && !versions.some((v) => v.version.id === ref));
    if (stored) throw new VerificationError(`version ${stored.name} is refused: ${stored.problem}`);
    return pickVersion(versions, ref);
  };

  if (command === 'list') {
    const infos = versions.map((v) => ({ ...versionInfo(v.version, v.number), ok: !v.problem, ...(v.problem ? { problem: v.problem } : {}) }));
    for (const v of infos) run.info(`${String(v.number).padStart(3)}  ${v.createdAt.slice(0, 19)}  ${v.createdBy.padEnd(22)} ${String(v.keys).padStart(3)} keys  ${v.kind === 'restore' ? `restore of ${v.restoredFrom}` : v.source}  ${v.message}${v.ok ? '' : `  REFUSED: ${v.problem}`}`);
    run.report({ service, versions: infos, problems: state.problems });
    if (versions.length && versions.every((v) => v.wrongKey)) throw new ConfigError(`no version of ${service} opens with the key in use: ${versions[0]!.problem}`);
    if (state.problems.length) throw new VerificationError(`${state.problems.length} problem(s) in the versions of ${service}: ${state.problems.map((p) => `${p.name}: ${p.problem}`).join('; ')}`);
    return { figures: { service, versions: infos, problems: [] } };
  }

  const openRef = async (ref: string) => {
    if (ref.startsWith('live:')) {
      const content = await readLocation(parseLocation(ref.slice(5)));
      for (const [, value] of content.entries) run.masker.addEnvValue(value);
      return { label: ref, entries: content.entries };
    }
    const { version, number } = pick(ref);
    return { label: `version ${number}`, entries: (await openVersion(keys, version, run.masker)).entries };
  };

  if (command === 'show') {
    const { version, number } = pick(stringFlag(flags, 'version'));
    const opened = await run.step('open and check version', () => openVersion(keys, version, run.masker), { readOnly: true });
    const info = versionInfo(version, number);
    run.info(`version ${number} (${version.id}) by ${version.createdBy} at ${version.createdAt}: ${version.message || '(no message)'}`);
    for (const [k] of opened.entries) run.info(`  ${k}=****`);
    if (reveal && !run.json) process.stdout.write(renderExport(opened.entries, 'dotenv'));
    return { figures: { service, version: info, keys: opened.entries.map(([k]) => k) }, ...(reveal ? { reveal: { values: Object.fromEntries(opened.entries) } } : {}) };
  }

  if (command === 'diff') {
    const [a, b] = ctx.args;
    if (!a || !b) throw new UsageError('diff needs two versions: diff --service S <v1> <v2|live:dotenv:./.env>');
    const [left, right] = await run.step('open both sides', () => Promise.all([openRef(a), openRef(b)]), { readOnly: true });
    const diff = diffEntries(left.entries, right.entries);
    for (const line of renderDiff(diff, new Map(left.entries), new Map(right.entries), false)) run.info(line);
    if (reveal && !run.json) process.stdout.write(renderDiff(diff, new Map(left.entries), new Map(right.entries), true).join('\n') + '\n');
    run.info(isEmptyDiff(diff) ? `${left.label} and ${right.label} hold the same values` : `${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed, ${diff.unchanged} unchanged`);
    // Like verify.ts: "they differ" is exit 3, with the differences in the summary.
    if (!isEmptyDiff(diff)) {
      run.report({ service, from: left.label, to: right.label, ...diff });
      throw new VerificationError(`${left.label} and ${right.label} differ: ${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed`);
    }
    return { figures: { service, from: left.label, to: right.label, ...diff } };
  }

  if (command === 'export') {
    const { version, number } = pick(stringFlag(flags, 'version'));
    const format = (stringFlag(flags, 'format') ?? 'dotenv') as 'dotenv' | 'json' | 'shell';
    if (!['dotenv', 'json', 'shell'].includes(format)) throw new UsageError('--format must be dotenv, json or shell');
    const out = stringFlag(flags, 'out');
    if (!out && !reveal) throw new UsageError('export prints secret values: add --reveal to print them, or --out FILE to write them to a 0600 file');
    if (!out && run.json) throw new UsageError('with --json, stdout carries events: use --out FILE');
    const opened = await run.step('open and check version', () => openVersion(keys, version, run.masker), { readOnly: true });
    const text = renderExport(opened.entries, format);
    // The values go to the file or the terminal only: never through the masked event sinks or the audit log.
    if (out) writeExclusive(out, Buffer.from(text), 0o600);
    else process.stdout.write(text);
    return { figures: { service, version: number, format, keys: opened.entries.length, ...(out ? { out } : {}) } };
  }

  // restore
  const { version, number } = pick(stringFlag(flags, 'version'));
  const to = parseLocation(stringFlag(flags, 'to') ?? '');
  const snapshot = await run.step('open and check version', () => openVersion(keys, version, run.masker), { readOnly: true });
  const current: EnvContent = await run.step(`read ${to.label}`, async () => {
    try {
      return await readLocation(to);
    } catch (error) {
      if (error instanceof ConfigError && /no such file|yields no keys/.test(error.message)) return { entries: [], format: to.kind };
      throw error;
    }
  }, { readOnly: true });
  for (const [, value] of current.entries) run.masker.addEnvValue(value);
  const prune = Boolean(flags.prune);
  const wanted = new Map(snapshot.entries);
  const extras = current.entries.filter(([k]) => !wanted.has(k));
  const desired = new Map([...snapshot.entries, ...(prune ? [] : extras)]);
  const diff = diffEntries(current.entries, [...desired.entries()]);
  for (const line of renderDiff(diff, new Map(current.entries), desired, false)) run.info(line);
  if (extras.length) run.warn(`${extras.length} key(s) added after version ${number}: ${extras.map(([k]) => k).join(', ')}${prune ? ' (removed: --prune)' : ' (kept; --prune removes them)'}`);
  run.report({ service, version: number, target: to.label, ...diff, extras: extras.map(([k]) => k) });
  if (isEmptyDiff(diff)) {
    run.info(`${to.label} already matches version ${number}: nothing to do`);
    return { figures: { changed: false } };
  }
  const exact = snapshot.document && version.sourceFormat === to.kind && (prune || extras.length === 0) ? snapshot.document : undefined;
  await run.step(`write ${to.label}`, () => writeLocation(to, desired, exact), {
    confirm: { action: `restore ${diff.added.length + diff.removed.length + diff.changed.length} change(s) from version ${number} to ${to.label}`, target: service },
  });
  if (run.dryRun) return { figures: { changed: false } };
  if (state.headProblem) {
    // Appending would move HEAD past the damage and hide it: the restore stands, unrecorded.
    run.warn(`the restore was not recorded as a new version: ${state.headProblem}`);
    return { figures: { changed: true, exact: Boolean(exact), recordedId: null } };
  }
  const recorded = await run.step('record the restore as a new version', async () => {
    const after = await readLocation(to);
    return appendVersion(vault.store, keys, { service, content: after, source: to.label, message: `restore of version ${number}`, kind: 'restore', restoredFrom: version.id }, run.masker);
  });
  return { figures: { changed: true, exact: Boolean(exact), recordedId: recorded.id } };
}
