import crypto from 'node:crypto';
import type pg from 'pg';
import { RefusedError } from '../../engine/errors';
import { databaseName, withDatabase } from './binaries';
import { connect, withClient } from './connect';
import type { DatabaseCreation } from './database-properties';
import { quoteIdent } from './sql';

// A database-level setting marks a restore in progress: "<run>:<created|adopted>:<backup>".
// It leaves the database's comment alone (that is user data) and goes with the
// database if it is renamed or dropped.
const MARKER = 'tickvault.restore';

const maintenanceUrl = (url: string): string => withDatabase(url, 'postgres');
const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

interface Marker {
  run: string;
  created: boolean;
  backup: string;
}

/** The restore marker of a database; null when it has none, undefined when the database does not exist. */
async function readMarker(admin: pg.ClientBase, name: string): Promise<Marker | null | undefined> {
  const { rows } = await admin.query<{ settings: string[] | null }>(
    `SELECT (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings FROM pg_database d WHERE d.datname = $1`,
    [name],
  );
  if (!rows.length) return undefined;
  const value = rows[0]!.settings?.find((s) => s.startsWith(`${MARKER}=`))?.slice(MARKER.length + 1);
  if (!value) return null;
  const [run, how, ...backup] = value.split(':');
  return { run: run ?? '', created: how === 'created', backup: backup.join(':') };
}

const writeMarker = (admin: pg.ClientBase, name: string, marker: Marker): Promise<unknown> =>
  admin.query(`ALTER DATABASE ${quoteIdent(name)} SET ${MARKER} = ${quoteLiteral(`${marker.run}:${marker.created ? 'created' : 'adopted'}:${marker.backup}`)}`);

/** SQLSTATEs of a locale or provider this server cannot give: invalid value, undefined object, not supported. */
const LOCALE_ERRORS = new Set(['22023', '42704', '0A000', '42809']);

/**
 * Create the target with the source's encoding and locale, as pg_restore
 * --create would: text hashes by its bytes, so another encoding would not
 * verify. A locale this server lacks falls back to the encoding alone, then
 * to libc's 'C'; the result says what was not carried.
 */
async function createOwn(admin: pg.ClientBase, name: string, marker: Marker, dropFirst: boolean, creation?: DatabaseCreation): Promise<string | undefined> {
  if (dropFirst) {
    await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS true`);
    await admin.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
  }
  const encoding = creation?.options.filter((o) => o.startsWith('ENCODING ')) ?? [];
  const attempts = creation?.encoding ? [creation.options, encoding, [...encoding, 'LOCALE_PROVIDER = libc', "LOCALE = 'C'"]] : [[]];
  let first: Error | undefined;
  let used: string[] | undefined;
  for (const options of attempts) {
    try {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}${options.length ? ` WITH TEMPLATE = template0 ${options.join(' ')}` : ''}`);
      used = options;
      break;
    } catch (error) {
      // Only a locale this server lacks is worth another try; permission, name or connection errors are the answer.
      if (!LOCALE_ERRORS.has(String((error as { code?: unknown }).code))) throw error;
      first ??= error as Error;
    }
  }
  if (!used) throw first;
  await writeMarker(admin, name, marker);
  const notCarried = [...(first ? [`locale (${creation!.options.join(' ')}): ${first.message}; created with ${used.join(' ')}`] : []), ...(creation?.notCarried ?? [])];
  return notCarried.length ? notCarried.join('; ') : undefined;
}

/**
 * User objects in a database: anything but the empty public schema and
 * PL/pgSQL. Schemas, tables, views, sequences, functions, types, extensions
 * and large objects all count; the first few are named.
 */
export async function userObjects(client: pg.ClientBase): Promise<string[]> {
  const system = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;
  const { rows } = await client.query<{ what: string }>(
    `SELECT what FROM (
       SELECT 'schema ' || quote_ident(n.nspname) AS what FROM pg_namespace n WHERE ${system} AND n.nspname <> 'public'
       UNION ALL SELECT 'relation ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${system}
       UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${system}
       UNION ALL SELECT 'type ' || t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE ${system} AND t.typrelid = 0 AND t.typelem = 0
       UNION ALL SELECT 'extension ' || e.extname FROM pg_extension e WHERE e.extname <> 'plpgsql'
       UNION ALL SELECT 'large object ' || l.oid::text FROM pg_largeobject_metadata l
     ) objects LIMIT 5`,
  );
  return rows.map((r) => r.what);
}

export interface PreparedTarget {
  url: string;
  database: string;
  created: boolean;
  resumed: boolean;
  /** What of the source's CREATE DATABASE this target did not get (a locale this server lacks, a tablespace). */
  notCarried?: string;
}

/**
 * Make the target ready: create it if missing; recreate one that an
 * interrupted restore *created* (its marker says so); refuse one that holds
 * any user object, or that an interrupted restore adopted (it existed
 * before: tickvault never drops a database it did not create).
 */
export async function prepareTarget(targetUrl: string, backupId: string, runId: string, creation?: DatabaseCreation): Promise<PreparedTarget> {
  const database = databaseName(targetUrl);
  return withClient(maintenanceUrl(targetUrl), async (admin) => {
    const marker = await readMarker(admin, database);
    if (marker === undefined || marker?.created) {
      const resumed = marker !== undefined;
      const notCarried = await createOwn(admin, database, { run: runId, created: true, backup: backupId }, resumed, creation);
      return { url: targetUrl, database, created: true, resumed, ...(notCarried ? { notCarried } : {}) };
    }
    if (marker) {
      throw new RefusedError(`the target database "${database}" holds an interrupted restore (run ${marker.run}) into a database that existed before; tickvault does not drop databases it did not create`, {
        hint: `drop "${database}" yourself if it may go, or restore into a new database`,
      });
    }
    const objects = await withClient(targetUrl, userObjects, '--target-url');
    if (objects.length > 0) {
      throw new RefusedError(`the target database "${database}" is not empty (${objects.join(', ')}${objects.length === 5 ? ', …' : ''}); nothing was changed`, {
        hint: 'restore into a new database (--target-url …/new_name creates it) or use --in-place',
      });
    }
    const { rows } = await admin.query<{ encoding: string }>('SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = $1', [database]);
    if (creation?.encoding && rows[0]?.encoding !== creation.encoding) {
      throw new RefusedError(`the target database "${database}" is encoded ${rows[0]?.encoding}, the backup's database ${creation.encoding}: its text would be converted and could not be verified against the backup; nothing was changed`, {
        hint: `restore into a new database (tickvault creates it ${creation.encoding}), or create "${database}" WITH TEMPLATE = template0 ${creation.options.join(' ')}`,
      });
    }
    await writeMarker(admin, database, { run: runId, created: false, backup: backupId });
    return { url: targetUrl, database, created: false, resumed: false };
  }, '--target-url (maintenance database "postgres")');
}

/** The restore is complete and verified: the marker goes. */
export async function markRestored(targetUrl: string): Promise<void> {
  await withClient(maintenanceUrl(targetUrl), (admin) => admin.query(`ALTER DATABASE ${quoteIdent(databaseName(targetUrl))} RESET ${MARKER}`));
}

/** Cut a name to at most `bytes` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, bytes: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > bytes) break;
    out += ch;
  }
  return out;
}

/** A name made of `base` and `suffix` that fits PostgreSQL's 63 bytes; the suffix is never cut. */
export const withSuffix = (base: string, suffix: string): string => `${truncateBytes(base, 63 - Buffer.byteLength(suffix))}${suffix}`;

/** Where an in-place restore builds its copy: stable per original (a re-run resumes it), distinct from it. */
export const restoreAsideName = (original: string): string => withSuffix(original, `__tv_rs_${crypto.createHash('sha256').update(original).digest('hex').slice(0, 8)}`);

/**
 * In-place: the verified copy takes the original's name. Connections to the
 * original are closed and refused first (writers quiesced); the original is
 * kept under a unique dated name, never dropped, and stays connectable. If
 * any step after quiescing fails, names and connections are put back and the
 * error is a failure while running (exit 1): something was changed.
 */
export async function swapIntoPlace(originalUrl: string, restoredDatabase: string): Promise<{ previous: string | null }> {
  const original = databaseName(originalUrl);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const previous = withSuffix(original, `__tv_pre_${stamp}_${crypto.randomBytes(2).toString('hex')}`);
  const admin = await connect(maintenanceUrl(originalUrl), 'DATABASE_URL (maintenance database "postgres")');
  let quiesced = false;
  let renamed = false;
  try {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [original])).rowCount! > 0;
    if (exists) {
      await admin.query(`ALTER DATABASE ${quoteIdent(original)} WITH ALLOW_CONNECTIONS false`);
      quiesced = true;
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [original]);
      await renameWhenFree(admin, original, previous);
      renamed = true;
    }
    await admin.query(`ALTER DATABASE ${quoteIdent(restoredDatabase)} RENAME TO ${quoteIdent(original)}`);
    if (exists) await admin.query(`ALTER DATABASE ${quoteIdent(previous)} WITH ALLOW_CONNECTIONS true`);
    return { previous: exists ? previous : null };
  } catch (error) {
    if (renamed) await admin.query(`ALTER DATABASE ${quoteIdent(previous)} RENAME TO ${quoteIdent(original)}`).catch(() => undefined);
    if (quiesced) await admin.query(`ALTER DATABASE ${quoteIdent(original)} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
    throw new Error(`swap into place failed after writers were quiesced; "${original}" was put back and accepts connections again: ${(error as Error).message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** RENAME needs the database free of sessions; terminated sessions take a moment to go. */
async function renameWhenFree(admin: pg.ClientBase, from: string, to: string): Promise<void> {
  // Terminated backends exit asynchronously: poll pg_stat_activity until they are gone (bounded).
  for (let attempt = 0; ; attempt++) {
    const left = await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [from]);
    if (left.rowCount === 0 || attempt >= 200) break;
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [from]);
    await admin.query('SELECT pg_sleep(0.05)');
  }
  await admin.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
}
