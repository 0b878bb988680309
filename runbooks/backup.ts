/**
 * Backups of every store into the backup repository, and their upkeep.
 *   npx tsx runbooks/backup.ts <postgres|redis|qdrant|all> [--kind logical|physical] [--json]
 *   npx tsx runbooks/backup.ts list | info <id> | verify <id> | prune [--dry-run]
 */
import { runCli } from './engine/cli';

const usage = `
Usage: npx tsx runbooks/backup.ts <command> [flags]

  postgres   --kind logical (default): pg_dump -Fd in parallel from an exported
               snapshot, per-table fingerprints in the same snapshot
             --kind physical: pgBackRest backup (--type full|diff|incr), WAL
               archived continuously for point-in-time recovery
  redis      BGSAVE, copy and redis-check-rdb the RDB
  qdrant     per-collection snapshots (QDRANT_URL, QDRANT_API_KEY)
  all        postgres (logical), redis, and qdrant when QDRANT_URL is set
  list       backups in the repository, oldest first, on stdout: id, pgBackRest
             label, kind, source, size, verified, recoverable window   [--store s]
  info ID    one backup in full (same fields, plus tool and server versions)
  verify ID  re-read every artifact, check sha256 (and pgbackrest verify)
             ID: a full id, any unique prefix of one, a pgBackRest label, or
             "latest --store s"; an ambiguous prefix lists the candidates (exit 2)
  prune      delete backups past retention that a newer good backup covers;
             never the newest good one   [--retention 30d] [--dry-run]
             (--retention-days 30: the old spelling, deprecated)

  --repo URL            BACKUP_REPO: file:///path or s3://bucket/prefix
  --database-url URL    DATABASE_URL       --redis-url URL  REDIS_URL
  --qdrant-url URL      QDRANT_URL         --collection C   (repeatable)
  --kind K              postgres: logical (default) or physical
  --type T              physical: full, diff or incr
  --store S             list, verify latest: postgres, redis or qdrant
  --jobs N              pg_dump workers (default 2)
Every backup prints its id (physical: with its pgBackRest label).
Backups go to <repo>/<TICKVAULT_ENV>/<store>/<id>/ with manifest.json written last.
`;

await runCli({
  runbook: 'backup',
  usage,
  commands: ['postgres', 'redis', 'qdrant', 'all', 'list', 'info', 'verify', 'prune'] as const,
  readOnlyCommands: ['list', 'info'],
  // --json: one JSON document (like pgbackrest info --output=json), not an event stream.
  documentCommands: ['list', 'info'],
  options: {
    kind: { type: 'string' },
    type: { type: 'string' },
    jobs: { type: 'string' },
    repo: { type: 'string' },
    store: { type: 'string' },
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    'qdrant-url': { type: 'string' },
    collection: { type: 'string', multiple: true },
    retention: { type: 'string' },
    'retention-days': { type: 'string' },
  },
  // Loaded on use, so --help starts fast.
  main: async (ctx) => (await import('./recovery/backup-commands')).backupCommand(ctx),
});
