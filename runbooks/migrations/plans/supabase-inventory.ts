import type pg from 'pg';

/** Supabase's API roles: cluster roles PostgREST switches to; a plain TimescaleDB server has none of them. */
export const SUPABASE_ROLES = ['anon', 'authenticated', 'service_role'];

export interface NotCarried {
  kind: 'role' | 'grant' | 'policy' | 'row level security' | 'schema' | 'foreign key';
  name: string;
  reason: string;
}

/**
 * What a Supabase source has around the migrated tables that the target does
 * not get. The plan STRIPS these (it never creates Supabase's roles on the
 * target): its policies call auth.uid() and name roles that only PostgREST
 * uses, and the target serves the application through its own role.
 */
export async function supabaseNotCarried(source: pg.ClientBase, target: pg.ClientBase, tables: string[]): Promise<{ notCarried: NotCarried[]; supabaseRolesOnSource: string[] }> {
  const out: NotCarried[] = [];
  const rolesOn = async (c: pg.ClientBase) => (await c.query<{ r: string }>('SELECT rolname AS r FROM pg_roles WHERE rolname = ANY($1) ORDER BY 1', [SUPABASE_ROLES])).rows.map((x) => x.r);
  const [onSource, onTarget] = await Promise.all([rolesOn(source), rolesOn(target)]);
  for (const r of onSource) {
    out.push({ kind: 'role', name: r, reason: onTarget.includes(r) ? 'exists on the target server, but the migrated tables get no grants to it' : 'missing on the target; not created (a Supabase API role)' });
  }
  const grants = await source.query<{ t: string; grantee: string; privs: string }>(
    `SELECT table_schema || '.' || table_name AS t, grantee, string_agg(privilege_type, ',' ORDER BY privilege_type) AS privs
       FROM information_schema.role_table_grants WHERE grantee = ANY($1) AND table_schema || '.' || table_name = ANY($2) GROUP BY 1, 2 ORDER BY 1, 2`,
    [SUPABASE_ROLES, tables],
  );
  for (const g of grants.rows) out.push({ kind: 'grant', name: `${g.privs} on ${g.t} to ${g.grantee}`, reason: 'stripped: Supabase API role' });
  const rls = await source.query<{ t: string }>(
    "SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity AND n.nspname || '.' || c.relname = ANY($1) ORDER BY 1",
    [tables],
  );
  for (const r of rls.rows) out.push({ kind: 'row level security', name: r.t, reason: 'not enabled on the target: its policies are not carried, and RLS without them would hide every row from non-owners' });
  const policies = await source.query<{ t: string; name: string; roles: string[]; qual: string | null }>(
    "SELECT schemaname || '.' || tablename AS t, policyname AS name, roles::text[] AS roles, coalesce(qual, with_check) AS qual FROM pg_policies WHERE schemaname || '.' || tablename = ANY($1) ORDER BY 1, 2",
    [tables],
  );
  for (const p of policies.rows) out.push({ kind: 'policy', name: `${p.name} on ${p.t}`, reason: `stripped: for ${p.roles.join(', ')}${p.qual && /auth\./.test(p.qual) ? '; uses Supabase Auth (auth.*)' : ''}` });
  const auth = await source.query<{ n: string | null }>("SELECT CASE WHEN to_regclass('auth.users') IS NULL THEN NULL ELSE (SELECT count(*)::text FROM auth.users) END AS n");
  if (auth.rows[0]?.n !== null && auth.rows[0]?.n !== undefined) out.push({ kind: 'schema', name: 'auth', reason: `Supabase Auth (${auth.rows[0].n} auth.users) stays with Supabase; public.users is migrated` });
  return { notCarried: out, supabaseRolesOnSource: onSource };
}

/** Column defaults of a source table that the target can take (not those calling Supabase's auth schema). */
export async function columnDefaults(source: pg.ClientBase, table: string): Promise<{ column: string; expr: string; carried: boolean }[]> {
  const { rows } = await source.query<{ column: string; expr: string }>(
    'SELECT a.attname AS column, pg_get_expr(d.adbin, d.adrelid) AS expr FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = to_regclass($1) AND a.attgenerated = \'\' ORDER BY a.attnum',
    [table],
  );
  return rows.map((r) => ({ ...r, carried: !/\bauth\./.test(r.expr) && !/nextval\(/.test(r.expr) }));
}
