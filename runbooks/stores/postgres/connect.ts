import pg from 'pg';
import { ConfigError } from '../../engine/errors';
import { maskUrl } from '../../engine/mask';

// Return int8 and numeric as strings (no float rounding); timestamps as text
// are handled by the queries that need them.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/**
 * Connect, turning the errors an operator can fix (host, port, password,
 * database name) into ConfigError (exit 2) that says which URL is wrong.
 */
export async function connect(url: string, label = 'DATABASE_URL', applicationName = 'tickvault'): Promise<pg.Client> {
  let client: pg.Client;
  try {
    client = new pg.Client({ connectionString: url, application_name: applicationName, connectionTimeoutMillis: 10_000 });
  } catch (error) {
    throw new ConfigError(`${label} is not a valid PostgreSQL URL: ${(error as Error).message}`);
  }
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const err = error as NodeJS.ErrnoException & { code?: string };
    const where = maskUrl(url);
    if (err.code === '28P01' || err.code === '28000') throw new ConfigError(`${label}: authentication failed for ${where}`, { hint: 'check the user and password in the URL' });
    if (err.code === '3D000') throw new ConfigError(`${label}: ${err.message} (${where})`, { pgCode: err.code });
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH' || /timeout/i.test(err.message)) {
      throw new ConfigError(`${label}: cannot reach ${where} (${err.code ?? err.message})`, { hint: 'is the server running? for the local stack: npx tsx runbooks/local.ts up' });
    }
    throw new ConfigError(`${label}: cannot connect to ${where}: ${err.message}`);
  }
  return client;
}

/**
 * Connect to two databases at once. If either fails, the other is closed
 * before the error is thrown: a client left open keeps the process alive,
 * and the command would hang after printing FAILED.
 */
export async function connectBoth(a: { url: string; label: string; app?: string }, b: { url: string; label: string; app?: string }): Promise<[pg.Client, pg.Client]> {
  const [ra, rb] = await Promise.allSettled([connect(a.url, a.label, a.app), connect(b.url, b.label, b.app)]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  await Promise.all([ra, rb].map((r) => (r.status === 'fulfilled' ? r.value.end().catch(() => undefined) : undefined)));
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}

/** Run fn with a connected client and always close it. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, label?: string): Promise<T> {
  const client = await connect(url, label);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
