import pg from 'pg';

/**
 * Whether the test server can really create TimescaleDB (installed and
 * preloaded). Where it cannot, TimescaleDB tests skip loudly; with
 * TICKVAULT_REQUIRE_TIMESCALEDB=1 (set by .ci/run) they fail instead.
 * Plain SQL on purpose: the tests' view of TimescaleDB shares no code with tickvault.
 */
export async function timescaleReady(adminUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
          AND 'timescaledb' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS ok`,
    );
    return Boolean(rows[0]?.ok);
  } finally {
    await client.end();
  }
}

/** true: run the TimescaleDB tests; false: skip them (after saying so). Throws when CI requires TimescaleDB. */
export async function requireTimescale(adminUrl: string, what: string): Promise<boolean> {
  if (await timescaleReady(adminUrl)) return true;
  const message = `TimescaleDB is not installed and preloaded on the test server: ${what}`;
  if (process.env.TICKVAULT_REQUIRE_TIMESCALEDB === '1') throw new Error(`${message} FAILS (TICKVAULT_REQUIRE_TIMESCALEDB=1). Install it: sudo ../shared/timescaledb/install.sh, or see README "TimescaleDB"`);
  process.stderr.write(`\n⚠ SKIPPING ${what}: ${message.split(':')[0]}. Run scripts/bootstrap or see README "TimescaleDB".\n\n`);
  return false;
}
