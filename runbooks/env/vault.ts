import crypto from 'node:crypto';
import os from 'node:os';
import { ConfigError, VerificationError } from '../engine/errors';
import type { Masker } from '../engine/mask';
import { deriveKeys, mac, macEquals, open, seal, SealBroken } from './crypto';
import type { KeyProvider } from './keys';
import type { EnvContent } from './sources';
import { newVersionId, type Head, type SealedVersion } from './store';

export interface OpenedVersion {
  version: SealedVersion;
  entries: [string, string][];
  document?: Buffer;
}

export const actor = (): string => process.env.TICKVAULT_ACTOR ?? `${os.userInfo().username}@${os.hostname()}`;

export interface SealInput {
  service: string;
  content: EnvContent;
  source: string;
  message: string;
  kind: 'snapshot' | 'restore';
  restoredFrom?: string;
}

/**
 * Seal content into a new immutable version on top of `previous` (the
 * current head): values under the derived encryption key, everything
 * (including the link to the predecessor) under the derived MAC key.
 */
export async function sealVersion(keys: KeyProvider, input: SealInput, previous?: SealedVersion): Promise<SealedVersion> {
  const dataKey = crypto.randomBytes(32);
  const { enc, mac: macKey } = deriveKeys(dataKey);
  const id = newVersionId();
  const values: Record<string, string> = {};
  for (const [key, value] of input.content.entries) values[key] = seal(enc, value, `${input.service}\0${id}\0${key}`);
  const body: Omit<SealedVersion, 'mac'> = {
    format: 2,
    id,
    service: input.service,
    seq: previous ? previous.seq + 1 : 1,
    previous: previous ? { id: previous.id, mac: previous.mac } : null,
    createdAt: new Date().toISOString(),
    createdBy: actor(),
    message: input.message,
    source: input.source,
    sourceFormat: input.content.format,
    kind: input.kind,
    ...(input.restoredFrom ? { restoredFrom: input.restoredFrom } : {}),
    keyId: keys.id,
    wrappedKey: await keys.wrap(dataKey, { service: input.service, version: id }),
    keys: input.content.entries.map(([k]) => k),
    values,
    ...(input.content.document ? { document: seal(enc, input.content.document, `${input.service}\0${id}\0document`) } : {}),
  };
  return { ...body, mac: mac(macKey, body) };
}

/** The head record after `version`, under its own wrapped key. */
export async function sealHead(keys: KeyProvider, version: SealedVersion): Promise<Head> {
  const dataKey = crypto.randomBytes(32);
  const body: Omit<Head, 'mac'> = { format: 2, service: version.service, id: version.id, seq: version.seq, versionMac: version.mac, keyId: keys.id, wrappedKey: await keys.wrap(dataKey, { service: version.service, version: 'HEAD' }) };
  return { ...body, mac: mac(deriveKeys(dataKey).mac, body) };
}

/** Throws VerificationError when the head record was changed by someone without the key. */
export async function checkHead(keys: KeyProvider, head: Head): Promise<void> {
  if (head.keyId !== keys.id) throw new VerificationError(`HEAD of ${head.service} was sealed with key ${head.keyId || '(none)'}, not ${keys.id}`);
  let dataKey: Buffer;
  try {
    dataKey = await keys.unwrap(head.wrappedKey, { service: head.service, version: 'HEAD' });
  } catch (error) {
    if (error instanceof SealBroken) throw new VerificationError(`HEAD of ${head.service} is damaged or tampered with`);
    throw error;
  }
  const { mac: stored, ...body } = head;
  if (!macEquals(mac(deriveKeys(dataKey).mac, body), stored)) throw new VerificationError(`HEAD of ${head.service} was tampered with: its MAC does not match`);
}

/**
 * Open a version: the right key (else exit 2), then the MAC and every seal
 * (else exit 3, naming the version). Values are registered with the masker
 * before anyone can print them.
 */
export async function openVersion(keys: KeyProvider, version: SealedVersion, masker: Masker): Promise<OpenedVersion> {
  if (version.keyId !== keys.id) {
    throw new ConfigError(`version ${version.id} was sealed with key ${version.keyId}, but the key in use is ${keys.id}`, { hint: 'set TICKVAULT_ENV_KEY_FILE (or TICKVAULT_KMS_KEY_ID) to the key it was sealed with' });
  }
  let dataKey: Buffer;
  try {
    dataKey = await keys.unwrap(version.wrappedKey, { service: version.service, version: version.id });
  } catch (error) {
    if (error instanceof SealBroken) throw new VerificationError(`version ${version.id} is damaged or tampered with: its data key does not open (for this service and version)`);
    throw error;
  }
  const { enc, mac: macKey } = deriveKeys(dataKey);
  const { mac: stored, ...body } = version;
  if (!macEquals(mac(macKey, body), stored)) throw new VerificationError(`version ${version.id} was tampered with: its MAC does not match`);
  try {
    const entries = version.keys.map((key): [string, string] => {
      const sealed = version.values[key];
      if (sealed === undefined) throw new SealBroken('a value is missing');
      const value = open(enc, sealed, `${version.service}\0${version.id}\0${key}`).toString('utf8');
      masker.addEnvValue(value);
      return [key, value];
    });
    const document = version.document ? open(enc, version.document, `${version.service}\0${version.id}\0document`) : undefined;
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
