import pg from 'pg';
import { $ } from 'zx';

/**
 * Checks that share no code with tickvault, to hold its verdicts against:
 * plain SQL and PostgreSQL's own tools only.
 */
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Independent: md5 per row of to_jsonb(row), sorted and hashed again, per relation holding rows. */
export async function rowHashes(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET TIME ZONE 'UTC'");
    await client.query('SET extra_float_digits = 3');
    const rels = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND (c.relkind <> 'm' OR c.relispopulated) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2`,
    );
    const out: Record<string, string> = {};
    for (const r of rels.rows) {
      const { rows } = await client.query<{ n: string; h: string }>(
        `SELECT count(*)::text AS n, md5(coalesce(string_agg(h, ',' ORDER BY h), '')) AS h FROM (SELECT md5(to_jsonb(x)::text) AS h FROM ONLY ${q(r.schema)}.${q(r.name)} x) s`,
      );
      out[`${r.schema}.${r.name}`] = `${rows[0]!.n}:${rows[0]!.h}`;
    }
    const lo = await client.query<{ h: string }>(`SELECT md5(coalesce(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid), '')) AS h FROM pg_largeobject_metadata`);
    out['(large objects)'] = lo.rows[0]!.h;
    const seqs = await client.query<{ s: string }>(`SELECT schemaname || '.' || sequencename || '=' || coalesce(last_value::text, 'none') AS s FROM pg_sequences ORDER BY 1`);
    out['(sequences)'] = seqs.rows.map((s) => s.s).join(',');
    return out;
  } finally {
    await client.end();
  }
}

/** Independent: pg_dump --schema-only, with comments, blank lines and session noise removed. */
export async function schemaOf(url: string): Promise<string> {
  const u = new URL(url);
  const out = await $({ env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) } })`pg_dump --schema-only --no-password ${`--dbname=${u.protocol}//${u.username}@${u.host}${u.pathname}`}`.quiet();
  return out.stdout
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('--') && !/^\\(un)?restrict /.test(l))
    .join('\n');
}

