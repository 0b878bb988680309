import type pg from 'pg';
import { inTransaction } from '../../engine/transaction';

/**
 * Point a view at a new query, atomically, even when its column types
 * change (CREATE OR REPLACE VIEW cannot): DROP and CREATE in one
 * transaction (a savepoint inside a phase's), with its grants and owner
 * put back. Readers see the old view or the new one, never none.
 */
export async function replaceView(client: pg.ClientBase, name: string, select: string): Promise<void> {
  await inTransaction(client, async () => {
    const { rows: grants } = await client.query<{ sql: string }>(
      `SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, c.oid::regclass, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                     CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) AS sql
         FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner`,
      [name],
    );
    const owner = (await client.query<{ owner: string | null }>('SELECT quote_ident(pg_get_userbyid(relowner)) AS owner FROM pg_class WHERE oid = to_regclass($1)', [name])).rows[0]?.owner;
    await client.query(`DROP VIEW IF EXISTS ${name}`);
    await client.query(`CREATE VIEW ${name} AS ${select}`);
    if (owner) await client.query(`ALTER VIEW ${name} OWNER TO ${owner}`);
    for (const g of grants) await client.query(g.sql);
  });
}
