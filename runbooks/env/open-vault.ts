import fs from 'node:fs';
import { openRepository, repositoryEnv } from '../repository/repository';
import { defaultKeyFile, FileKeyProvider, KmsKeyProvider, type KeyProvider } from './keys';
import { RepositoryVaultStore, SsmVaultStore, type VaultStore } from './store';

export interface Vault {
  store: VaultStore;
  /** The key provider; `create` makes a local key file on first use (snapshots only). */
  keys: (create: boolean) => KeyProvider;
  /** The local key file in use (undefined with KMS). */
  keyFile?: string;
  /** True when a snapshot would create a brand-new local key. */
  keyWouldBeCreated: boolean;
}

/**
 * The one vault configuration for env.ts and the migrations' env snapshots:
 * TICKVAULT_VAULT (or BACKUP_REPO) for storage; KMS when
 * TICKVAULT_KMS_KEY_ID is set, else the local key file.
 */
export function openVault(settings: { get(name: string): string | undefined; require(name: string, flag?: string, flagName?: string): string }, vaultFlag?: string): Vault {
  const location = vaultFlag ?? settings.get('TICKVAULT_VAULT') ?? settings.require('BACKUP_REPO', undefined, '--vault');
  const store = location.startsWith('ssm:') ? new SsmVaultStore(location.slice(4).replace(/\/$/, '')) : new RepositoryVaultStore(openRepository(location, repositoryEnv(settings)));
  const kms = settings.get('TICKVAULT_KMS_KEY_ID');
  if (kms) return { store, keys: () => new KmsKeyProvider(kms, settings.get('AWS_REGION')), keyWouldBeCreated: false };
  const keyFile = defaultKeyFile();
  return { store, keys: (create) => new FileKeyProvider(keyFile, { create }), keyFile, keyWouldBeCreated: !fs.existsSync(keyFile) };
}
