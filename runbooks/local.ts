/**
 * The embedded local stack: real PostgreSQL, Redis and s3rver processes
 * under .tickvault/local/.
 *   npx tsx runbooks/local.ts up|down|status|stop <name> [--json] [--purge]
 */
import { runCli } from './engine/cli';
import { UsageError, VerificationError } from './engine/errors';

const usage = `
Usage: npx tsx runbooks/local.ts <up|down|status|stop> [flags]

  up       start PostgreSQL (WAL archiving to pgBackRest), Redis (RDB) and s3rver
           with a "tickvault-backups" bucket on free ports; reuse them if running.
           Writes .tickvault/local/env, which every runbook reads by default.
  down     stop exactly the processes up (and local restores) started.
           --purge also deletes the local data (asks; --yes to skip).
  status   report each service's health, restored servers included
           (postgres:restore-…, redis:…); exit 3 when one is unhealthy.
  stop <name>
           stop one restored server (as "status" names it), leaving the
           stack running; --purge also deletes its data.

The JSON summary of "up" and "status" carries usable URLs for the loopback
services (postgres.url, redis.url, s3.endpoint): they are printed unmasked
on stdout only. Human output and audit logs mask the passwords.
`;

await runCli({
  runbook: 'local',
  usage,
  commands: ['up', 'down', 'status', 'stop'] as const,
  readOnlyCommands: ['status'],
  options: { purge: { type: 'boolean', default: false } },
  async main({ run, command, flags, args }) {
    const { down, status, stopOne, up } = await import('./local/stack');
    if (command === 'stop') {
      if (args.length !== 1) throw new UsageError('stop needs the name of one restored server, as "local status" lists it (e.g. postgres:restore-20261122T0730-ab12)');
      return { figures: await stopOne(run, args[0]!, { purge: Boolean(flags.purge) }) };
    }
    if (command === 'up') {
      const result = await up(run);
      run.info(`postgres ${result.postgres.url}`);
      run.info(`redis    ${result.redis.url}`);
      run.info(`s3       ${result.s3.endpoint} bucket ${result.s3.bucket}`);
      run.info(`env file ${result.envFile} (credentials are there)`);
      const reveal = { postgres: result.postgres, redis: result.redis, s3: result.s3 };
      return { figures: { ...reveal, reused: result.reused, envFile: result.envFile }, reveal };
    }
    if (command === 'down') {
      const result = await down(run, { purge: Boolean(flags.purge) });
      return { figures: result };
    }
    const result = await status();
    for (const [name, s] of Object.entries(result.services)) {
      run.info(`${name.padEnd(18)} ${s.healthy ? 'healthy' : 'UNHEALTHY'}  port ${s.port}  ${s.running ? `pid ${s.pid}` : 'not running'}  ${s.detail}`);
    }
    const unhealthy = Object.entries(result.services).filter(([, s]) => !s.healthy).map(([n]) => n);
    if (!result.started) throw new VerificationError('the local stack is not started; run "npx tsx runbooks/local.ts up"');
    if (unhealthy.length) throw new VerificationError(`unhealthy: ${unhealthy.join(', ')}`);
    return { figures: { services: result.services } };
  },
});
