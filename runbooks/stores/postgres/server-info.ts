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
