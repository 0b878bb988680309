import type pg from 'pg';

export interface ServerInfo {
  version: string;
  versionNum: number;
  extensions: Record<string, string>;
}

export async function serverInfo(client: pg.ClientBase): Promise<ServerInfo> {
  const { rows } = await client.query<{ version: string; num: string }>("SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num");
  const ext = await client.query<{ extname: string; extversion: string }>("SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1");
  return {
    version: rows[0]!.version,
    versionNum: Number(rows[0]!.num),
    extensions: Object.fromEntries(ext.rows.map((r) => [r.extname, r.extversion])),
  };
}

/** Where a database lives, for lock keys and messages (no credentials). */
export function databaseIdentity(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/** What a backup is of: the cluster (system identifier) and database. */
export interface SourceIdentity {
  systemIdentifier?: string;
  database: string;
  host: string;
}

/**
 * The cluster's system identifier survives renames of hosts and ports (a
 * physical restore keeps it too). pg_control_system() needs superuser or
 * pg_monitor-like rights; without them the host:port stands in.
 */
export async function sourceIdentity(client: pg.ClientBase, url: string): Promise<SourceIdentity> {
  const u = new URL(url);
  const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  let systemIdentifier: string | undefined;
  try {
    systemIdentifier = (await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
  } catch {
    systemIdentifier = undefined;
  }
  return { ...(systemIdentifier ? { systemIdentifier } : {}), database, host: `${u.hostname}:${u.port || 5432}` };
}
