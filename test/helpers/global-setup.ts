import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { runRunbook } from './runbook';

/**
 * One embedded local stack for the integration tests, in its own
 * TICKVAULT_HOME so it never touches a developer's .tickvault/.
 */
export default async function setup(project: TestProject) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tickvault-test-'));
  fs.chmodSync(home, 0o755);
  const env = { TICKVAULT_HOME: home };
  const up = await runRunbook('local', ['up', '--json'], { env });
  if (up.code !== 0) throw new Error(`local stack did not start:\n${up.stderr}\n${up.stdout}`);
  const summary = up.summary as { postgres: { url: string }; redis: { url: string }; s3: { endpoint: string; bucket: string } };
  project.provide('stack', { home, postgresUrl: summary.postgres.url, redisUrl: summary.redis.url, s3Endpoint: summary.s3.endpoint, bucket: summary.s3.bucket });
  return async () => {
    await runRunbook('local', ['down', '--purge', '--yes'], { env });
    fs.rmSync(home, { recursive: true, force: true });
  };
}
