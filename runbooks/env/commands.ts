import fs from 'node:fs';
import type { CliContext, CommandResult } from '../engine/cli';
import { stringFlag } from '../engine/cli';
import { ConfigError, UsageError } from '../engine/errors';
import { parseLocation, readLocation, renderExport, writeLocation, type EnvContent } from './sources';
import { pickVersion, validService, versionInfo } from './store';
import { vaultFor, type Vault } from './vault-config';
import { diffEntries, isEmptyDiff, openVersion, renderDiff, sealVersion } from './vault';

/** The vault this command works on: env's one configuration builder (shared with migrations). */
const vaultOf = ({ settings, flags }: CliContext, create: boolean): Vault => vaultFor(settings, { location: stringFlag(flags, 'vault'), create });

export async function envCommand(ctx: CliContext): Promise<CommandResult> {
  const { run, flags, command } = ctx;
  const service = validService(stringFlag(flags, 'service'));
  const reveal = Boolean(flags.reveal);
  const vault = vaultOf(ctx, command === 'snapshot');

  if (command === 'snapshot') {
    const from = parseLocation(stringFlag(flags, 'from') ?? '');
    const content = await run.step(`read ${from.label}`, () => readLocation(from), { readOnly: true });
    for (const [, value] of content.entries) run.masker.addEnvValue(value);
    const keys = vault.keys();
    const sealed = await run.step('seal and store a new version', async (step) => {
      const version = await sealVersion(keys, { service, content, source: from.label, message: stringFlag(flags, 'message') ?? '', kind: 'snapshot' });
      await vault.store.put(version);
      step.note(`${content.entries.length} keys → ${vault.store.label}`);
      return version;
    });
    if (!sealed) return {};
    const number = (await vault.store.list(service)).findIndex((v) => v.id === sealed.id) + 1;
    return { figures: { service, version: number, id: sealed.id, keys: content.entries.length, vault: vault.store.label } };
  }

  const versions = await run.step('read versions', () => vault.store.list(service), { readOnly: true });
  if (command === 'list') {
    const infos = versions.map((v, i) => versionInfo(v, i + 1));
    for (const v of infos) run.info(`${String(v.number).padStart(3)}  ${v.createdAt.slice(0, 19)}  ${v.createdBy.padEnd(22)} ${String(v.keys).padStart(3)} keys  ${v.kind === 'restore' ? `restore of ${v.restoredFrom}` : v.source}  ${v.message}`);
    return { figures: { service, versions: infos } };
  }

  const keys = vault.keys();
  const openRef = async (ref: string) => {
    if (ref.startsWith('live:')) {
      const content = await readLocation(parseLocation(ref.slice(5)));
      for (const [, value] of content.entries) run.masker.addEnvValue(value);
      return { label: ref, entries: content.entries };
    }
    const { version, number } = pickVersion(versions, ref);
    return { label: `version ${number}`, entries: (await openVersion(keys, version, run.masker)).entries };
  };

  if (command === 'show') {
    const { version, number } = pickVersion(versions, stringFlag(flags, 'version'));
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
    return { figures: { service, from: left.label, to: right.label, ...diff } };
  }

  if (command === 'export') {
    const { version, number } = pickVersion(versions, stringFlag(flags, 'version'));
    const format = (stringFlag(flags, 'format') ?? 'dotenv') as 'dotenv' | 'json' | 'shell';
    if (!['dotenv', 'json', 'shell'].includes(format)) throw new UsageError('--format must be dotenv, json or shell');
    const out = stringFlag(flags, 'out');
    if (!out && !reveal) throw new UsageError('export prints secret values: add --reveal to print them, or --out FILE to write them to a 0600 file');
    if (!out && run.json) throw new UsageError('with --json, stdout carries events: use --out FILE');
    const opened = await run.step('open and check version', () => openVersion(keys, version, run.masker), { readOnly: true });
    const text = renderExport(opened.entries, format);
    // The values go to the file or the terminal only: never through the masked event sinks or the audit log.
    if (out) fs.writeFileSync(out, text, { mode: 0o600 });
    else process.stdout.write(text);
    return { figures: { service, version: number, format, keys: opened.entries.length, ...(out ? { out } : {}) } };
  }

  // restore
  const { version, number } = pickVersion(versions, stringFlag(flags, 'version'));
  const to = parseLocation(stringFlag(flags, 'to') ?? '');
  const snapshot = await run.step('open and check version', () => openVersion(keys, version, run.masker), { readOnly: true });
  const current: EnvContent = await run.step(`read ${to.label}`, async () => {
    try {
      return await readLocation(to);
    } catch (error) {
      if (error instanceof ConfigError && /no such file/.test(error.message)) return { entries: [], format: to.kind };
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
  const recorded = await run.step('record the restore as a new version', async () => {
    const after = await readLocation(to);
    const sealed = await sealVersion(keys, { service, content: after, source: to.label, message: `restore of version ${number}`, kind: 'restore', restoredFrom: version.id });
    await vault.store.put(sealed);
    return sealed;
  });
  return { figures: { changed: true, exact: Boolean(exact), recordedId: recorded.id } };
}
