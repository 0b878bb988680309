/**
 * Verified restores with RTO/RPO reporting.
 *   npx tsx runbooks/restore.ts <postgres|redis|qdrant> (--latest | --backup <id> | --to-time <ISO>)
 *     [--target-url URL | --in-place] [--incident-time <ts>] [--yes] [--json]
 */
import { runCli } from './engine/cli';

const usage = `
Usage: npx tsx runbooks/restore.ts <postgres|redis|qdrant> <which> [target] [flags]

Which backup (exactly one):
  --latest               the newest good backup (postgres: --kind logical|physical)
  --backup ID            a backup id from "backup list", any unique prefix of
                         one, a pgBackRest label, or "latest" (= --latest);
                         an ambiguous prefix lists the candidates (exit 2)
  --to-time ISO          postgres point-in-time recovery through pgBackRest

Where to (default: somewhere new; the live data is never touched):
  postgres logical       --target-url URL: a new database (created) or an empty one
  postgres physical/PITR a new cluster on a free port; the summary gives targetUrl
  redis                  a new redis-server on a free port from the RDB
  qdrant                 --target-url URL: another Qdrant
  --in-place             replace the live data (asks you to type its name; --yes).
                         postgres: restored aside, verified, then swapped in; the
                         old database is kept renamed.

Every artifact's sha256 is checked before the target is touched (exit 3 if
one is off). After restoring, every table's row count and content hash are
compared with the manifest.

TimescaleDB (logical): the extension is created at the backup's version, then
timescaledb_pre_restore(), one serial pg_restore, timescaledb_post_restore();
hypertables (chunks, compressed chunks), continuous aggregates' materialized
rows and jobs are compared with the backup. A target whose TimescaleDB version
differs from the backup's is refused (exit 2, nothing changed) unless
  --timescale-update     restore into the backup's version, then
                         ALTER EXTENSION timescaledb UPDATE to the target's

RTO (start to verified) and RPO (incident time minus the newest recovered
data) are compared with the scenario's targets; a miss exits 3.
  --scenario corruption|full-failure|deletion   (defaults: 2h/1h, 4h/1h, 1h/24h;
                                                 override with TICKVAULT_OBJECTIVES)
  --incident-time ISO    when the incident happened (default: restore start)

  --repo URL             BACKUP_REPO: file:///path or s3://bucket/prefix
  --database-url URL     DATABASE_URL: the live database (--in-place, PITR source)
  --redis-url URL        REDIS_URL: the live Redis (--in-place)
  --qdrant-url URL       QDRANT_URL: the live Qdrant
  --jobs N               pg_restore workers (default 2)
`;

await runCli({
  runbook: 'restore',
  usage,
  commands: ['postgres', 'redis', 'qdrant'] as const,
  options: {
    latest: { type: 'boolean', default: false },
    backup: { type: 'string' },
    'to-time': { type: 'string' },
    'target-url': { type: 'string' },
    'in-place': { type: 'boolean', default: false },
    'timescale-update': { type: 'boolean', default: false },
    'incident-time': { type: 'string' },
    scenario: { type: 'string' },
    kind: { type: 'string' },
    jobs: { type: 'string' },
    repo: { type: 'string' },
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    'qdrant-url': { type: 'string' },
  },
  main: async (ctx) => (await import('./recovery/restore-commands')).restoreCommand(ctx),
});
