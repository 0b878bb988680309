/**
 * Environment-variable recovery: versioned, encrypted snapshots.
 *   npx tsx runbooks/env.ts snapshot|list|show|diff|restore|export --service S …
 */
import { runCli } from './engine/cli';

const usage = `
Usage: npx tsx runbooks/env.ts <command> --service NAME [flags]

  snapshot --from SRC [--message M]      seal the current values as a new version
                                          (prints its number and id)
  list                                    versions: number, when, who, keys, why
                                          (without --service: the services)
  show --version V [--reveal]             keys of a version (values masked)
  diff V1 V2|live:SRC [--reveal]          what differs, by key (values masked);
                                          exit 3 when they differ, like verify
  restore --version V --to SRC [--prune]  show the diff, confirm, write, and record
                                          the restore as a new version; keys added
                                          since V are kept unless --prune
  export --version V --format dotenv|json|shell (--reveal | --out FILE)
                                          ready to paste into a hosting dashboard

  --service NAME   the service (api, worker, …)
  --from SRC       snapshot: where the values are read
  --to SRC         restore: where the values are written
  --message M      snapshot: why (shown by list)
  --version V      show, restore, export: which version
  --format F       export: dotenv, json or shell
  --out FILE       export: write a 0600 file instead of printing
  --vault URL      where versions live (default TICKVAULT_VAULT, then BACKUP_REPO)
  --prune          restore: also remove keys added since V
  --reveal         print secret values (show, diff, export)

Sources and targets: PATH (a .env file; *.json a JSON file)  dotenv:PATH  json:PATH
  env:PREFIX (this process, source only)  ssm:/path/
Versions: a number from "list", an id or a unique prefix of one, or latest.

Storage: TICKVAULT_VAULT or --vault (default BACKUP_REPO; file://, s3:// or
ssm:/prefix) under env/<service>/. Values are sealed with AES-256-GCM under a
per-version data key, wrapped by TICKVAULT_KMS_KEY_ID (KMS) or a local key
file (TICKVAULT_ENV_KEY_FILE, default .tickvault/env-vault.key, created 0600
on first snapshot). Wrong or missing key: exit 2. Tampered version: exit 3.
`;

await runCli({
  runbook: 'env',
  usage,
  commands: ['snapshot', 'list', 'show', 'diff', 'restore', 'export'] as const,
  readOnlyCommands: ['list', 'show', 'diff'],
  options: {
    service: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    message: { type: 'string' },
    version: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    vault: { type: 'string' },
    prune: { type: 'boolean', default: false },
    reveal: { type: 'boolean', default: false },
  },
  main: async (ctx) => (await import('./env/commands')).envCommand(ctx),
});
