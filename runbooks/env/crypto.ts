import crypto from 'node:crypto';

/**
 * sops-style values: readable keys, each value sealed with AES-256-GCM and
 * bound to its key name (AAD), so values cannot be swapped between keys.
 */
const SEALED = /^ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^\]]+)\]$/;

export function seal(key: Buffer, plaintext: Buffer | string, aad: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `ENC[AES256_GCM,data:${data.toString('base64')},iv:${iv.toString('base64')},tag:${cipher.getAuthTag().toString('base64')}]`;
}

export class SealBroken extends Error {}

export function open(key: Buffer, sealed: string, aad: string): Buffer {
  const m = SEALED.exec(sealed);
  if (!m) throw new SealBroken('not a sealed value');
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(m[2]!, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(m[3]!, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(m[1]!, 'base64')), decipher.final()]);
  } catch {
    throw new SealBroken('authentication failed');
  }
}

/** Separate encryption and MAC keys from one data key (HKDF-SHA256), so neither use weakens the other. */
export function deriveKeys(dataKey: Buffer): { enc: Buffer; mac: Buffer } {
  const derive = (info: string) => Buffer.from(crypto.hkdfSync('sha256', dataKey, Buffer.alloc(0), info, 32));
  return { enc: derive('tickvault-env-enc-v2'), mac: derive('tickvault-env-mac-v2') };
}

/** HMAC over a canonical JSON form (sorted keys): detects edits to names and metadata. */
export function mac(key: Buffer, value: unknown): string {
  return crypto.createHmac('sha256', key).update(canonicalJson(value)).digest('base64');
}

/** Constant-time comparison of two base64 MACs. */
export function macEquals(a: string, b: string): boolean {
  const x = Buffer.from(a, 'base64');
  const y = Buffer.from(b, 'base64');
  return x.length === y.length && x.length > 0 && crypto.timingSafeEqual(x, y);
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
