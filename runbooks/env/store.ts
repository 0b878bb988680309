import crypto from 'node:crypto';
import { z } from 'zod';
import { ConfigError, UsageError, VerificationError } from '../engine/errors';
import { getText, putText, type Repository } from '../repository/repository';

/** One immutable version as stored: readable keys, sealed values, a MAC over everything. */
export const sealedVersionSchema = z.object({
  format: z.literal(2),
  id: z.string().regex(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/, 'not a version id'),
  service: z.string(),
  /** Position in the service's chain, 1 for the first version. */
  seq: z.number().int().positive(),
  /** The head this version was sealed on top of: its id and MAC (authenticated by this version's MAC). */
  previous: z.object({ id: z.string(), mac: z.string() }).nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  message: z.string(),
  source: z.string(),
  sourceFormat: z.enum(['dotenv', 'json', 'env', 'ssm']),
  kind: z.enum(['snapshot', 'restore']),
  restoredFrom: z.string().optional(),
  keyId: z.string(),
  wrappedKey: z.string(),
  keys: z.array(z.string()),
  values: z.record(z.string(), z.string()),
  document: z.string().optional(),
  mac: z.string(),
});
export type SealedVersion = z.infer<typeof sealedVersionSchema>;

export interface VersionInfo {
  number: number;
  id: string;
  createdAt: string;
  createdBy: string;
  message: string;
  kind: 'snapshot' | 'restore';
  restoredFrom?: string;
  keys: number;
  source: string;
}

/** The head record of a service: which version is newest, authenticated with its own wrapped key. */
export const headSchema = z.object({ format: z.literal(2), service: z.string(), id: z.string(), seq: z.number().int().positive(), versionMac: z.string(), keyId: z.string(), wrappedKey: z.string(), mac: z.string() });
export type Head = z.infer<typeof headSchema>;

/** A stored file that is not a usable version: named, and skipped. */
export interface StoredProblem {
  name: string;
  problem: string;
}

/** Where versions live: create-only writes under unique ids; the head is replaced under a lock. */
export interface VaultStore {
  readonly label: string;
  /** Parseable versions whose name and service agree with where they are stored, plus what is wrong with the rest. */
  list(service: string): Promise<{ versions: SealedVersion[]; problems: StoredProblem[] }>;
  put(version: SealedVersion): Promise<void>;
  getHead(service: string): Promise<Head | undefined>;
  putHead(head: Head): Promise<void>;
  /** Whether any service holds versions (to refuse making a new key beside them). */
  anyVersions(): Promise<boolean>;
  /** The services that hold at least one stored version, sorted. */
  services(): Promise<string[]>;
}

/** Services named by stored version paths like `<service>/<id>.json` or `<service>/versions/<id>`. */
export function servicesIn(names: string[], versionPath: RegExp): string[] {
  return [...new Set(names.flatMap((n) => versionPath.exec(n)?.[1] ?? []))].sort();
}

export const newVersionId = (now = new Date()): string => `${now.toISOString().replace(/[-:.]/g, '')}-${crypto.randomBytes(4).toString('hex')}`;

export function validService(service: string | undefined): string {
  if (!service || !/^[a-z0-9][a-z0-9_-]{0,62}$/i.test(service)) throw new UsageError('--service must be a name like "api" (letters, digits, - and _)');
  return service;
}

/**
 * One stored version, checked against where it was found: its service must
 * be the folder's and its id the file's name, else it was copied or renamed.
 */
function parseVersion(text: string, name: string, service: string): SealedVersion | StoredProblem {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { name, problem: 'not JSON (damaged)' };
  }
  const parsed = sealedVersionSchema.safeParse(raw);
  if (!parsed.success) return { name, problem: `not a tickvault env version: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
  if (parsed.data.service !== service) return { name, problem: `sealed for service "${parsed.data.service}", found under "${service}": refused` };
  if (parsed.data.id !== name) return { name, problem: `its id ${parsed.data.id} disagrees with its name: refused` };
  return parsed.data;
}

function collect(parsed: (SealedVersion | StoredProblem)[]): { versions: SealedVersion[]; problems: StoredProblem[] } {
  const versions = parsed.filter((p): p is SealedVersion => 'format' in p).sort(byTime);
  const problems = parsed.filter((p): p is StoredProblem => 'problem' in p);
  return { versions, problems };
}

function parseHead(text: string): Head | undefined {
  try {
    const parsed = headSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const byTime = (a: SealedVersion, b: SealedVersion) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/** The backup repository (file:// or s3://), under env/<service>/. */
export class RepositoryVaultStore implements VaultStore {
  readonly label: string;
  constructor(private readonly repo: Repository) {
    this.label = `${repo.url}/env`;
  }

  async list(service: string): Promise<{ versions: SealedVersion[]; problems: StoredProblem[] }> {
    const keys = (await this.repo.list(`env/${service}/`)).filter((k) => k.endsWith('.json') && k !== `env/${service}/HEAD.json`);
    const parsed = await Promise.all(
      keys.map(async (k) => {
        const name = k.slice(`env/${service}/`.length, -'.json'.length);
        try {
          return parseVersion(await getText(this.repo, k), name, service);
        } catch (error) {
          return { name, problem: `unreadable: ${(error as Error).message}` };
        }
      }),
    );
    return collect(parsed);
  }

  async put(version: SealedVersion): Promise<void> {
    await putText(this.repo, `env/${version.service}/${version.id}.json`, JSON.stringify(version, null, 2));
  }

  async getHead(service: string): Promise<Head | undefined> {
    if (!(await this.repo.exists(`env/${service}/HEAD.json`))) return undefined;
    return parseHead(await getText(this.repo, `env/${service}/HEAD.json`)) ?? ({ format: 2, service, id: '', seq: 1, versionMac: '', keyId: '', wrappedKey: '', mac: 'damaged' } satisfies Head);
  }

  async putHead(head: Head): Promise<void> {
    await putText(this.repo, `env/${head.service}/HEAD.json`, JSON.stringify(head, null, 2));
  }

  async anyVersions(): Promise<boolean> {
    return (await this.repo.list('env/')).some((k) => k.endsWith('.json') && !k.endsWith('/HEAD.json'));
  }

  async services(): Promise<string[]> {
    return servicesIn(await this.repo.list('env/'), /^env\/([^/]+)\/(?!HEAD\.json$)[^/]+\.json$/);
  }
}

/** AWS SSM Parameter Store: one advanced SecureString per version under <prefix>/<service>/versions/. */
export class SsmVaultStore implements VaultStore {
  readonly label: string;
  constructor(private readonly prefix: string) {
    this.label = `ssm:${prefix}`;
  }

  private async client() {
    const { SSMClient } = await import('@aws-sdk/client-ssm');
    return new SSMClient({});
  }

  private async values(path: string): Promise<[string, string][]> {
    const { GetParametersByPathCommand } = await import('@aws-sdk/client-ssm');
    const client = await this.client();
    const out: [string, string][] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new GetParametersByPathCommand({ Path: path, WithDecryption: true, NextToken: token }));
      for (const p of page.Parameters ?? []) out.push([(p.Name ?? '').slice(path.length), p.Value ?? '']);
      token = page.NextToken;
    } while (token);
    return out;
  }

  async list(service: string): Promise<{ versions: SealedVersion[]; problems: StoredProblem[] }> {
    return collect((await this.values(`${this.prefix}/${service}/versions/`)).map(([name, value]) => parseVersion(value, name, service)));
  }

  async getHead(service: string): Promise<Head | undefined> {
    const [entry] = (await this.values(`${this.prefix}/${service}/`)).filter(([name]) => name === 'HEAD');
    return entry ? (parseHead(entry[1]) ?? { format: 2, service, id: '', seq: 1, versionMac: '', keyId: '', wrappedKey: '', mac: 'damaged' }) : undefined;
  }

  async putHead(head: Head): Promise<void> {
    const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
    await (await this.client()).send(new PutParameterCommand({ Name: `${this.prefix}/${head.service}/HEAD`, Value: JSON.stringify(head), Type: 'SecureString', Overwrite: true }));
  }

  async services(): Promise<string[]> {
    // Names only: no decryption needed to know which services exist.
    const { GetParametersByPathCommand } = await import('@aws-sdk/client-ssm');
    const client = await this.client();
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new GetParametersByPathCommand({ Path: `${this.prefix}/`, Recursive: true, NextToken: token }));
      for (const p of page.Parameters ?? []) names.push((p.Name ?? '').slice(this.prefix.length + 1));
      token = page.NextToken;
    } while (token);
    return servicesIn(names, /^([^/]+)\/versions\/[^/]+$/);
  }

  async anyVersions(): Promise<boolean> {
    const { GetParametersByPathCommand } = await import('@aws-sdk/client-ssm');
    const page = await (await this.client()).send(new GetParametersByPathCommand({ Path: `${this.prefix}/`, Recursive: true, MaxResults: 10 }));
    return (page.Parameters ?? []).some((p) => /\/versions\//.test(p.Name ?? ''));
  }

  async put(version: SealedVersion): Promise<void> {
    const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
    const body = JSON.stringify(version);
    if (body.length > 8192) throw new ConfigError(`version too large for an SSM parameter (${body.length} bytes > 8 KiB); use an S3 vault`);
    await (await this.client()).send(new PutParameterCommand({ Name: `${this.prefix}/${version.service}/versions/${version.id}`, Value: body, Type: 'SecureString', Tier: 'Advanced', Overwrite: false }));
  }
}

export function versionInfo(version: SealedVersion, number: number): VersionInfo {
  return {
    number,
    id: version.id,
    createdAt: version.createdAt,
    createdBy: version.createdBy,
    message: version.message,
    kind: version.kind,
    ...(version.restoredFrom ? { restoredFrom: version.restoredFrom } : {}),
    keys: version.keys.length,
    source: version.source,
  };
}

/** "3", "latest", or a version id; a version that failed its checks is refused (exit 3) by name. */
/** An exact id, or the one id that starts with `ref`; two or more is a usage error naming them. */
function versionByIdPrefix<T extends { version: SealedVersion; number: number }>(versions: T[], ref: string): T | undefined {
  const exact = versions.find((v) => v.version.id === ref);
  if (exact) return exact;
  const matches = versions.filter((v) => v.version.id.startsWith(ref));
  if (matches.length > 1) throw new UsageError(`version "${ref}" is ambiguous: ${matches.map((v) => `${v.number} (${v.version.id})`).join(', ')}`);
  return matches[0];
}

export function pickVersion<T extends { version: SealedVersion; number: number; problem?: string; wrongKey?: boolean }>(versions: T[], ref: string | undefined): T {
  if (!ref) throw new UsageError('--version is required (a number from "env.ts list", an id, or latest)');
  if (versions.length === 0) throw new UsageError('this service has no versions yet; take one with "env.ts snapshot"');
  const found = ref === 'latest' ? versions.filter((v) => !v.problem).at(-1) : /^\d+$/.test(ref) && Number(ref) >= 1 && Number(ref) <= versions.length ? versions[Number(ref) - 1] : versionByIdPrefix(versions, ref);
  if (!found) throw new UsageError(`no ${ref === 'latest' ? 'intact ' : ''}version "${ref}" (there are ${versions.length}: a number from "env list", an id or a unique prefix of one, or latest)`);
  if (found.problem && found.wrongKey) throw new ConfigError(found.problem, { hint: 'set TICKVAULT_ENV_KEY_FILE (or TICKVAULT_KMS_KEY_ID) to the key it was sealed with' });
  if (found.problem) throw new VerificationError(`version ${found.number} (${found.version.id}) is refused: ${found.problem}`);
  return found;
}
