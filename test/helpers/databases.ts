import crypto from 'node:crypto';
import pg from 'pg';

/** A fresh, uniquely named database on the test cluster; returns its URL. */
export async function createDatabase(adminUrl: string, prefix = 't'): Promise<string> {
  const name = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * CREATE DATABASE … TEMPLATE needs the template to have no sessions. With
 * TimescaleDB preloaded its launcher connects schedulers to databases on its
 * own, so connections are refused while the copy is made.
 */
export async function cloneDatabase(adminUrl: string, template: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`ALTER DATABASE ${template} WITH ALLOW_CONNECTIONS false`);
    try {
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [template]);
      await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    } finally {
      await client.query(`ALTER DATABASE ${template} WITH ALLOW_CONNECTIONS true`);
    }
  } finally {
    await client.end();
  }
}

/** Two new databases, each set up by its own SQL: [source, target]. */
export async function databasePair(adminUrl: string, prefix: string, sourceSql: string, targetSql: string): Promise<[string, string]> {
  const [a, b] = await Promise.all([createDatabase(adminUrl, `${prefix}_src`), createDatabase(adminUrl, `${prefix}_dst`)]);
  await query(a, sourceSql);
  await query(b, targetSql);
  return [a, b];
}
