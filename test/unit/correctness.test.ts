import { describe, expect, it } from 'vitest';
import { sourceKey } from '../../runbooks/repository/backup-source';
import type { BackupEntry, Manifest } from '../../runbooks/repository/manifest';
import { planPrune } from '../../runbooks/repository/retention';
import { databaseCreation, databasePropertyBlocks } from '../../runbooks/stores/postgres/database-properties';
import { parseTableName } from '../../runbooks/stores/postgres/sql';
import { truncateBytes, withSuffix } from '../../runbooks/stores/postgres/target-database';
import { columnValue, rowHash, type HashColumn } from '../../runbooks/verify/row-hash';

const now = new Date('2026-06-30T00:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
const logical = (id: string, age: number, database: string, systemIdentifier = '7001'): BackupEntry => ({
  manifest: { id, store: 'postgres', kind: 'logical', finishedAt: daysAgo(age), details: {}, source: { systemIdentifier, database, host: 'h:5432' } } as unknown as Manifest,
  verification: { id, at: daysAgo(age), ok: true, run: 'r', problems: [] },
});

describe('retention groups by store, kind and source', () => {
  it("one database's newer backup never covers another database's", () => {
    const plan = planPrune([logical('a-old', 90, 'a'), logical('b-new', 1, 'b')], now, 30);
    expect(plan.delete).toEqual([]);
    const same = planPrune([logical('a-old', 90, 'a'), logical('a-new', 1, 'a')], now, 30);
    expect(same.delete.map((d) => d.id)).toEqual(['a-old']);
  });

  it('the same database name on another cluster is another source', () => {
    expect(sourceKey(logical('x', 1, 'app', '1').manifest)).not.toBe(sourceKey(logical('y', 1, 'app', '2').manifest));
    const plan = planPrune([logical('c1', 90, 'app', '1'), logical('c2', 1, 'app', '2')], now, 30);
    expect(plan.delete).toEqual([]);
  });
});

describe('table names as pg_dump -t reads them', () => {
  it('quoted parts keep case, spaces, dots and quotes; bare parts fold to lower case', () => {
    expect(parseTableName('"Odd Schema"."Order Items"')).toEqual({ schema: 'Odd Schema', name: 'Order Items' });
    expect(parseTableName('"a.b"."with ""quote"""')).toEqual({ schema: 'a.b', name: 'with "quote"' });
    expect(parseTableName('Public.Users')).toEqual({ schema: 'public', name: 'users' });
    expect(parseTableName('ticks')).toEqual({ schema: 'public', name: 'ticks' });
    expect(parseTableName('"ünïcödé"."Ταμπλό"')).toEqual({ schema: 'ünïcödé', name: 'Ταμπλό' });
  });

  it('refuses what is not a name, saying why', () => {
    expect(() => parseTableName('"Odd Schema.Order Items')).toThrow(/unterminated quote/);
    expect(() => parseTableName('a.b.c')).toThrow(/too many parts/);
    expect(() => parseTableName('x; DROP TABLE y')).toThrow(/unexpected/);
    expect(() => parseTableName('')).toThrow(/empty/);
  });
});

describe('names within 63 bytes', () => {
  it('never splits a character, never cuts the suffix', () => {
    expect(Buffer.byteLength(truncateBytes('ü'.repeat(40), 63))).toBe(62);
    const name = withSuffix('ü'.repeat(40), '__tv_pre_20260101T000000_abcd');
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    expect(name.endsWith('__tv_pre_20260101T000000_abcd')).toBe(true);
  });
});

describe('database-level statements from pg_restore --create', () => {
  const script = [
    '-- Name: My "Db"; Type: DATABASE; Schema: -; Owner: alice',
    '--',
    `CREATE DATABASE "My ""Db""" WITH TEMPLATE = template0 ENCODING = 'UTF8';`,
    `ALTER DATABASE "My ""Db""" OWNER TO alice;`,
    '\\connect -reuse-previous=on "dbname=\'My \\"Db\\"\'"',
    'SET statement_timeout = 0;',
    '-- Name: DATABASE "My ""Db"""; Type: COMMENT; Schema: -; Owner: alice',
    `COMMENT ON DATABASE "My ""Db""" IS 'it''s mine';`,
    '-- Name: My "Db"; Type: DATABASE PROPERTIES; Schema: -; Owner: alice',
    `ALTER DATABASE "My ""Db""" SET search_path TO '$user', 'public';`,
    '-- Name: items; Type: TABLE; Schema: public; Owner: alice',
    'CREATE TABLE public.items (id int);',
  ].join('\n');

  it('points owner, comment and settings at the target, and nothing else', () => {
    const blocks = databasePropertyBlocks(script, 'target db');
    expect(blocks.map((b) => b.sql)).toEqual([
      'ALTER DATABASE "target db" OWNER TO alice;',
      `COMMENT ON DATABASE "target db" IS 'it''s mine';`,
      `ALTER DATABASE "target db" SET search_path TO '$user', 'public';`,
    ]);
  });
});

describe("the source database's encoding and locale, from the archive's CREATE DATABASE", () => {
  const script = (name: string, clause: string) => `SET client_encoding = 'LATIN1';\nCREATE DATABASE ${name} WITH TEMPLATE = template0${clause};\nALTER DATABASE x OWNER TO me;\n`;
  it('keeps encoding and locale; a tablespace (quoted or not) and values that are not plain text are named as not carried', () => {
    expect(databaseCreation(script('db', " ENCODING = 'LATIN1' LOCALE_PROVIDER = libc LOCALE = 'C' TABLESPACE = fast"))).toEqual({ encoding: 'LATIN1', options: ["ENCODING = 'LATIN1'", 'LOCALE_PROVIDER = libc', "LOCALE = 'C'"], notCarried: ['TABLESPACE = fast'] });
    expect(databaseCreation(script('db', " ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'en_US.UTF-8' ICU_LOCALE = 'de@collation=phonebook' TABLESPACE = \"Fast SSD\""))).toEqual({
      encoding: 'UTF8',
      options: ["ENCODING = 'UTF8'", 'LOCALE_PROVIDER = icu', "LOCALE = 'en_US.UTF-8'", "ICU_LOCALE = 'de@collation=phonebook'"],
      notCarried: ['TABLESPACE = "Fast SSD"'],
    });
    expect(databaseCreation(script('db', " ENCODING = 'UTF8' LOCALE = 'C''; DROP DATABASE y; --'"))).toEqual({ encoding: 'UTF8', options: ["ENCODING = 'UTF8'"], notCarried: ["LOCALE = 'C''; DROP DATABASE y; --'"] });
  });

  it("reads the real statement's options, not text inside the database's name", () => {
    const name = `"x WITH TEMPLATE = template0 ENCODING = 'SQL_ASCII' LOCALE = 'C';\ny"`;
    expect(databaseCreation(script(name, " ENCODING = 'UTF8' LOCALE = 'C.UTF-8'"))).toMatchObject({ encoding: 'UTF8', notCarried: [] });
  });

  it('a statement it cannot read is named as not carried; no CREATE DATABASE at all is undefined', () => {
    expect(databaseCreation('CREATE DATABASE "unterminated WITH TEMPLATE = template0;\n')).toEqual({ options: [], notCarried: [expect.stringMatching(/^CREATE DATABASE not read/)] });
    expect(databaseCreation(script('db', ' ENCODING = garbage!'))).toMatchObject({ encoding: 'garbage', notCarried: [expect.stringMatching(/options not read: !/)] });
    expect(databaseCreation('CREATE TABLE t ();\n')).toBeUndefined();
  });
});

describe('row hash', () => {
  const col = (name: string, type: string, base: string, builtin = true): HashColumn => ({ name, type, base, builtin, deterministic: true });

  it('arrays are never cast as scalars, whatever the other side holds', () => {
    const expr = columnValue('r', col('prices', 'numeric[]', '_numeric'), { text: true, floatsAsNumeric: true });
    expect(expr).not.toMatch(/::numeric\)/);
    expect(expr).toContain('::text');
  });

  it('is keyed by column name: ROW() lists columns in the order given (sorted by hashColumns)', () => {
    const record = 'hash_record_extended(ROW((r."a")::pg_catalog."int4", (r."b")::pg_catalog."text"), 0)';
    const columns = [col('a', 'integer', 'int4'), col('b', 'text', 'text')];
    // `mixed` hashes the (linear) record hash again, so sums see which row holds a value; `named` is the old form.
    expect(rowHash('r', columns)).toBe(`hashtextextended((${record})::text COLLATE "C", 0)`);
    expect(rowHash('r', columns, undefined, 'named')).toBe(record);
    expect(columnValue('r', col('mood', 'mood', 'mood', false))).toBe('(r."mood"::text) COLLATE "C"');
  });
});
