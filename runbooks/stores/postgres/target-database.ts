import type pg from 'pg';
import { ConfigError, RefusedError } from '../../engine/errors';
import { databaseName, withDatabase } from './binaries';
import { connect, withClient } from './connect';
import { listTables } from './fingerprint';
import { quoteIdent } from './sql';

// A database comment marks a restore in progress, so a re-run after kill -9
// knows the half-restored database is ours to recreate, not user data.
const RESTORING = 'tickvault:restoring:';

const maintenanceUrl = (url: string): string => withDatabase(url, 'postgres');

async function databaseComment(admin: pg.ClientBase, name: string): Promise<string | null | undefined> {
  const { rows } = await admin.query<{ comment: string | null }>('SELECT shobj_description(oid, $2) AS comment FROM pg_database WHERE datname = $1', [name, 'pg_database']);
  return rows.length ? rows[0]!.comment : undefined;
}

async function recreate(admin: pg.ClientBase, name: string, backupId: string): Promise<void> {
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  await admin.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS '${RESTORING}${backupId}'`);
}

export interface PreparedTarget {
  url: string;
  database: string;
  created: boolean;
  resumed: boolean;
}

/**
 * Make the target ready: create it if missing, resume (recreate) one that an
 * interrupted restore left behind, and refuse one that holds user tables.
 */
export async function prepareTarget(targetUrl: string, backupId: string): Promise<PreparedTarget> {
  const database = databaseName(targetUrl);
  return withClient(maintenanceUrl(targetUrl), async (admin) => {
    const comment = await databaseComment(admin, database);
    if (comment === undefined) {
      await recreate(admin, database, backupId);
      return { url: targetUrl, database, created: true, resumed: false };
    }
    if (comment?.startsWith(RESTORING)) {
      await recreate(admin, database, backupId);
      return { url: targetUrl, database, created: false, resumed: true };
    }
    const tables = await withClient(targetUrl, (client) => listTables(client), '--target-url');
    if (tables.length > 0) {
      throw new RefusedError(`the target database "${database}" is not empty (${tables.length} tables, e.g. ${tables[0]!.schema}.${tables[0]!.name}); nothing was changed`, {
        hint: 'restore into a new database (--target-url …/new_name creates it) or use --in-place',
      });
    }
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(database)} IS '${RESTORING}${backupId}'`);
    return { url: targetUrl, database, created: false, resumed: false };
  }, '--target-url (maintenance database "postgres")');
}

export async function markRestored(targetUrl: string, backupId: string): Promise<void> {
  await withClient(maintenanceUrl(targetUrl), (admin) => admin.query(`COMMENT ON DATABASE ${quoteIdent(databaseName(targetUrl))} IS ${quoteLiteral(`tickvault:restored:${backupId}:${new Date().toISOString()}`)}`));
}

const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/**
 * In-place: the verified copy takes the original's name. Connections to the
 * original are closed and refused first (writers quiesced); the original is
 * kept under a dated name, never dropped.
 */
export async function swapIntoPlace(originalUrl: string, restoredDatabase: string): Promise<{ previous: string | null }> {
  const original = databaseName(originalUrl);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const previous = `${original}__tv_pre_${stamp}`.slice(0, 63);
  const admin = await connect(maintenanceUrl(originalUrl), 'DATABASE_URL (maintenance database "postgres")');
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [original])).rowCount! > 0;
    if (exists) {
      await admin.query(`ALTER DATABASE ${quoteIdent(original)} WITH ALLOW_CONNECTIONS false`);
      for (let attempt = 0; ; attempt++) {
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [original]);
        try {
          await admin.query(`ALTER DATABASE ${quoteIdent(original)} RENAME TO ${quoteIdent(previous)}`);
          break;
        } catch (error) {
          if (attempt >= 20) throw new ConfigError(`could not quiesce "${original}": ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    }
    await admin.query(`ALTER DATABASE ${quoteIdent(restoredDatabase)} RENAME TO ${quoteIdent(original)}`);
    return { previous: exists ? previous : null };
  } finally {
    await admin.end();
  }
}
