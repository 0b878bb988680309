import { repositoryEnv, type Settings } from '../engine/config';
import { openRepository } from '../repository/repository';
import { defaultKeyFile, FileKeyProvider, KmsKeyProvider, type KeyProvider } from './keys';
import { RepositoryVaultStore, SsmVaultStore, type VaultStore } from './store';

export interface Vault {
  store: VaultStore;
  keys: () => KeyProvider;
}

/**
 * The vault's configuration, the same for env.ts and a migration's backup
 * phase: TICKVAULT_VAULT (or --vault, else BACKUP_REPO) for storage; KMS when
 * TICKVAULT_KMS_KEY_ID is set, else the local key file.
 */
export function vaultFor(settings: Settings, opts: { location?: string; create: boolean }): Vault {
  const location = opts.location ?? settings.get('TICKVAULT_VAULT') ?? settings.require('BACKUP_REPO', undefined, '--vault');
  const store = location.startsWith('ssm:') ? new SsmVaultStore(location.slice(4).replace(/\/$/, '')) : new RepositoryVaultStore(openRepository(location, repositoryEnv(settings)));
  const kms = settings.get('TICKVAULT_KMS_KEY_ID');
  return { store, keys: () => (kms ? new KmsKeyProvider(kms, settings.get('AWS_REGION')) : new FileKeyProvider(defaultKeyFile(), { create: opts.create })) };
}
