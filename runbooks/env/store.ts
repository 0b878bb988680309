import crypto from 'node:crypto';
import { z } from 'zod';
import { ConfigError, UsageError } from '../engine/errors';
import { getText, putText, type Repository } from '../repository/repository';

/** One immutable version as stored: readable keys, sealed values, a MAC over everything. */
export const sealedVersionSchema = z.object({
  format: z.literal(1),
  id: z.string(),
  service: z.string(),
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

/** Where versions live: create-only writes under unique ids, so concurrent snapshots never collide. */
export interface VaultStore {
  readonly label: string;
  list(service: string): Promise<SealedVersion[]>;
  put(version: SealedVersion): Promise<void>;
}

export const newVersionId = (now = new Date()): string => `${now.toISOString().replace(/[-:.]/g, '')}-${crypto.randomBytes(4).toString('hex')}`;

export function validService(service: string | undefined): string {
  if (!service || !/^[a-z0-9][a-z0-9_-]{0,62}$/i.test(service)) throw new UsageError('--service must be a name like "api" (letters, digits, - and _)');
  return service;
}

const parseVersion = (text: string, where: string): SealedVersion => {
  const parsed = sealedVersionSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ConfigError(`${where} is not a tickvault env version: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
};

const byTime = (a: SealedVersion, b: SealedVersion) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/** The backup repository (file:// or s3://), under env/<service>/. */
export class RepositoryVaultStore implements VaultStore {
  readonly label: string;
  constructor(private readonly repo: Repository) {
    this.label = `${repo.url}/env`;
  }

  async list(service: string): Promise<SealedVersion[]> {
    const keys = (await this.repo.list(`env/${service}/`)).filter((k) => k.endsWith('.json'));
    const versions = await Promise.all(keys.map(async (k) => parseVersion(await getText(this.repo, k), k)));
    return versions.sort(byTime);
  }

  async put(version: SealedVersion): Promise<void> {
    await putText(this.repo, `env/${version.service}/${version.id}.json`, JSON.stringify(version, null, 2));
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

  async list(service: string): Promise<SealedVersion[]> {
    const { GetParametersByPathCommand } = await import('@aws-sdk/client-ssm');
    const client = await this.client();
    const out: SealedVersion[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new GetParametersByPathCommand({ Path: `${this.prefix}/${service}/versions/`, WithDecryption: true, NextToken: token }));
      for (const p of page.Parameters ?? []) out.push(parseVersion(p.Value ?? '', p.Name ?? ''));
      token = page.NextToken;
    } while (token);
    return out.sort(byTime);
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

/** "3", "latest", or a version id. */
export function pickVersion(versions: SealedVersion[], ref: string | undefined): { version: SealedVersion; number: number } {
  if (!ref) throw new UsageError('--version is required (a number from "env.ts list", an id, or latest)');
  if (versions.length === 0) throw new UsageError('this service has no versions yet; take one with "env.ts snapshot"');
  const index = ref === 'latest' ? versions.length - 1 : /^\d+$/.test(ref) ? Number(ref) - 1 : versions.findIndex((v) => v.id === ref);
  const version = versions[index];
  if (!version) throw new UsageError(`no version "${ref}" (there are ${versions.length})`);
  return { version, number: index + 1 };
}
