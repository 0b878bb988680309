import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, messageOf, VerificationError } from '../engine/errors';
import { withKernelLock } from '../engine/lock';
import type { Masker } from '../engine/mask';
import { stateRoot, privateDir } from '../engine/paths';
import { macEquals } from './crypto';
import type { KeyProvider } from './keys';
import type { SealedVersion, StoredProblem, VaultStore } from './store';
import { checkHead, openVersion, sealHead, sealVersion, type SealInput } from './vault';

export interface CheckedVersion {
  version: SealedVersion;
  number: number;
  /** Why this version cannot be trusted; undefined when it verified. */
  problem?: string;
  /** The key in use is not the one it was sealed with (exit 2), rather than damage (exit 3). */
  wrongKey?: boolean;
}

export interface ServiceState {
  versions: CheckedVersion[];
  /** Everything wrong, each naming a version (or HEAD): reported, never fatal for the others. */
  problems: StoredProblem[];
  /** The newest authentic version the head vouches for (what a new snapshot chains onto). */
  head?: SealedVersion;
  /** Problems that make appending unsafe (the newest version gone, or the head rolled back). */
  headProblem?: string;
}

/** The newest sequence number this machine has seen per vault and service: catches a rolled-back HEAD. */
const seenFile = (label: string, service: string) => path.join(stateRoot(), 'env-seen', `${crypto.createHash('sha256').update(`${label}\0${service}`).digest('hex').slice(0, 24)}.json`);

function readSeen(label: string, service: string): { seq: number; id: string } | undefined {
  try {
    return JSON.parse(fs.readFileSync(seenFile(label, service), 'utf8')) as { seq: number; id: string };
  } catch {
    return undefined;
  }
}

function writeSeen(label: string, service: string, version: SealedVersion): void {
  const seen = readSeen(label, service);
  if (seen && seen.seq >= version.seq) return;
  const file = seenFile(label, service);
  privateDir(path.dirname(file));
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ seq: version.seq, id: version.id }), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * Verify every version of a service: its own MAC and seals, its link to its
 * predecessor (a changed or deleted version breaks its successor's link),
 * and the head record (a deleted newest version leaves the head pointing
 * at nothing). Damage is named per version; the rest stays usable.
 */
export async function checkService(store: VaultStore, keys: KeyProvider, service: string, masker: Masker): Promise<ServiceState> {
  const { versions, problems: stored } = await store.list(service);
  const problems: StoredProblem[] = [...stored];
  const ordered = [...versions].sort((a, b) => a.seq - b.seq || a.createdAt.localeCompare(b.createdAt));
  const checked: CheckedVersion[] = ordered.map((version, i) => ({ version, number: i + 1 }));
  const byId = new Map(ordered.map((v) => [v.id, v]));
  const bad = (c: CheckedVersion, problem: string) => {
    c.problem ??= problem;
    problems.push({ name: c.version.id, problem });
  };
  for (const c of checked) {
    try {
      await openVersion(keys, c.version, masker);
    } catch (error) {
      if (error instanceof ConfigError) c.wrongKey = true;
      bad(c, messageOf(error));
    }
  }
  const okIds = new Set(checked.filter((c) => !c.problem).map((c) => c.version.id));
  const seqs = new Map<number, string>();
  for (const c of checked.filter((x) => !x.problem)) {
    const v = c.version;
    if (seqs.has(v.seq)) problems.push({ name: v.id, problem: `shares position ${v.seq} with ${seqs.get(v.seq)} (two heads: written concurrently from two machines, or replayed)` });
    seqs.set(v.seq, v.id);
    if (!v.previous) {
      if (v.seq !== 1) problems.push({ name: v.id, problem: `claims no predecessor but is number ${v.seq} in its chain` });
      continue;
    }
    const prev = byId.get(v.previous.id);
    if (!prev) problems.push({ name: v.previous.id, problem: `missing: version ${v.id} was sealed on top of it (deleted?)` });
    else if (!macEquals(prev.mac, v.previous.mac) || prev.seq + 1 !== v.seq) {
      const target = checked.find((x) => x.version.id === prev.id)!;
      bad(target, `replaced: it is not the version ${v.id} was sealed on top of`);
      okIds.delete(prev.id);
    }
  }

  const state: ServiceState = { versions: checked, problems };
  if (ordered.length === 0) return state;
  const head = await store.getHead(service);
  const newest = ordered.filter((v) => okIds.has(v.id)).at(-1);
  let headProblem: string | undefined;
  if (!head) headProblem = 'HEAD is missing although versions exist (the newest version may have been deleted)';
  else {
    try {
      await checkHead(keys, head);
      const pointed = byId.get(head.id);
      if (!pointed) headProblem = `the newest version ${head.id} (number ${head.seq}) is missing: deleted`;
      else if (!macEquals(pointed.mac, head.versionMac)) headProblem = `the newest version ${head.id} was replaced`;
      else if (newest && newest.seq > head.seq && !(newest.seq === head.seq + 1 && newest.previous?.id === head.id)) headProblem = `version ${newest.id} is newer than HEAD (${head.id}) without following it`;
    } catch (error) {
      headProblem = messageOf(error);
    }
  }
  const seen = readSeen(store.label, service);
  if (!headProblem && head && seen && seen.seq > head.seq) headProblem = `this machine has seen version ${seen.id} (number ${seen.seq}), but the vault's newest is number ${head.seq}: versions were removed (HEAD rolled back)`;
  if (headProblem) {
    problems.push({ name: 'HEAD', problem: headProblem });
    state.headProblem = headProblem;
  } else if (newest) {
    state.head = newest;
    writeSeen(store.label, service, newest);
  }
  return state;
}

/**
 * Append a version on top of the verified head, then move the head. A
 * kernel lock queues snapshots of one service on this machine, so two at
 * once both land, one after the other, in one chain.
 */
export async function appendVersion(store: VaultStore, keys: KeyProvider, input: SealInput, masker: Masker): Promise<SealedVersion> {
  return (await changeHead(store, keys, input.service, masker, async () => input))!;
}

/**
 * Read the service's newest version and append one derived from it, both
 * under the service's lock, so a version appended meanwhile is never
 * overwritten (a read outside the lock could lose it). `derive` gets the
 * head's opened entries (undefined for an empty service) and returns the new
 * version, or undefined to append nothing.
 */
export async function changeHead(store: VaultStore, keys: KeyProvider, service: string, masker: Masker, derive: (head: { version: SealedVersion; entries: [string, string][] } | undefined) => Promise<SealInput | undefined>): Promise<SealedVersion | undefined> {
  return withKernelLock(`env-vault\0${store.label}\0${service}`, async () => {
    const state = await checkService(store, keys, service, masker);
    if (state.headProblem) throw new VerificationError(`refusing to add a version to ${service}: ${state.headProblem}`, { hint: 'investigate the vault first: env.ts list --service …' });
    const head = state.head ? { version: state.head, entries: (await openVersion(keys, state.head, masker)).entries } : undefined;
    const input = await derive(head);
    if (!input) return undefined;
    const version = await sealVersion(keys, input, state.head);
    await store.put(version);
    await store.putHead(await sealHead(keys, version));
    writeSeen(store.label, service, version);
    return version;
  });
}
