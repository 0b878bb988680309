import crypto from 'node:crypto';
import os from 'node:os';
import { ConfigError, VerificationError } from '../engine/errors';
import type { Masker } from '../engine/mask';
import { mac, open, seal, SealBroken } from './crypto';
import type { KeyProvider } from './keys';
import type { EnvContent } from './sources';
import { newVersionId, type SealedVersion } from './store';

export interface OpenedVersion {
  version: SealedVersion;
  entries: [string, string][];
  document?: Buffer;
}

export const actor = (): string => process.env.TICKVAULT_ACTOR ?? `${os.userInfo().username}@${os.hostname()}`;

/** Seal content into a new immutable version (envelope encryption, MAC last). */
export async function sealVersion(keys: KeyProvider, input: { service: string; content: EnvContent; source: string; message: string; kind: 'snapshot' | 'restore'; restoredFrom?: string }): Promise<SealedVersion> {
  const dataKey = crypto.randomBytes(32);
  const values: Record<string, string> = {};
  for (const [key, value] of input.content.entries) values[key] = seal(dataKey, value, `${input.service}\0${key}`);
  const body: Omit<SealedVersion, 'mac'> = {
    format: 1,
    id: newVersionId(),
    service: input.service,
    createdAt: new Date().toISOString(),
    createdBy: actor(),
    message: input.message,
    source: input.source,
    sourceFormat: input.content.format,
    kind: input.kind,
    ...(input.restoredFrom ? { restoredFrom: input.restoredFrom } : {}),
    keyId: keys.id,
    wrappedKey: await keys.wrap(dataKey),
    keys: input.content.entries.map(([k]) => k),
    values,
    ...(input.content.document ? { document: seal(dataKey, input.content.document, `${input.service}\0document`) } : {}),
  };
  return { ...body, mac: mac(dataKey, body) };
}

/**
 * Open a version: the right key (else exit 2), then every seal and the MAC
 * (else exit 3: the stored bytes were changed). Values are registered with
 * the masker before anyone can print them.
 */
export async function openVersion(keys: KeyProvider, version: SealedVersion, masker: Masker): Promise<OpenedVersion> {
  if (version.keyId !== keys.id) {
    throw new ConfigError(`version ${version.id} was sealed with key ${version.keyId}, but the key in use is ${keys.id}`, { hint: 'set TICKVAULT_ENV_KEY_FILE (or TICKVAULT_KMS_KEY_ID) to the key it was sealed with' });
  }
  let dataKey: Buffer;
  try {
    dataKey = await keys.unwrap(version.wrappedKey);
  } catch (error) {
    if (error instanceof SealBroken) throw new VerificationError(`version ${version.id} is damaged or tampered with: its data key does not open`);
    throw error;
  }
  const { mac: stored, ...body } = version;
  if (mac(dataKey, body) !== stored) throw new VerificationError(`version ${version.id} was tampered with: its MAC does not match`);
  try {
    const entries = version.keys.map((key): [string, string] => {
      const value = open(dataKey, version.values[key]!, `${version.service}\0${key}`).toString('utf8');
      masker.addEnvValue(value);
      return [key, value];
    });
    const document = version.document ? open(dataKey, version.document, `${version.service}\0document`) : undefined;
    return { version, entries, ...(document ? { document } : {}) };
  } catch (error) {
    if (error instanceof SealBroken) throw new VerificationError(`version ${version.id} was tampered with: a sealed value does not open`);
    throw error;
  }
}

export interface EnvDiff {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: number;
}

/** What changes going from `from` to `to`, by key. */
export function diffEntries(from: [string, string][], to: [string, string][]): EnvDiff {
  const a = new Map(from);
  const b = new Map(to);
  return {
    added: [...b.keys()].filter((k) => !a.has(k)),
    removed: [...a.keys()].filter((k) => !b.has(k)),
    changed: [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k)),
    unchanged: [...b.keys()].filter((k) => a.get(k) === b.get(k)).length,
  };
}

export const isEmptyDiff = (d: EnvDiff): boolean => d.added.length + d.removed.length + d.changed.length === 0;

/** Masked diff lines: keys readable, values never shown unless revealed. */
export function renderDiff(d: EnvDiff, from: Map<string, string>, to: Map<string, string>, reveal: boolean): string[] {
  const show = (v: string | undefined) => (reveal ? JSON.stringify(v) : '****');
  return [
    ...d.added.map((k) => `+ ${k} = ${show(to.get(k))}`),
    ...d.removed.map((k) => `- ${k} (was ${show(from.get(k))})`),
    ...d.changed.map((k) => `~ ${k}: ${show(from.get(k))} → ${show(to.get(k))}`),
  ];
}
