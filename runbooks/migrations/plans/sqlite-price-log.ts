import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { z } from 'zod';
import { ConfigError, RefusedError, VerificationError } from '../../engine/errors';
import { inTransaction } from '../../engine/transaction';
import { forgetBatches, markDone, planBatches } from '../copy/ledger';
import { definePlan, type Phase, type PhaseContext } from '../plan';
import { backupRepository } from './shared';

// Seed 002: SQLite btc_price_history.db and JSON ETH snapshots →
// PostgreSQL live_data.btc_price_log / eth_price_log (the seed's DDL).
// SQLite is read through Debian's sqlite3 CLI as a stream (CSV out, COPY in).
const DELTAS = ['delta_1m', 'delta_2m', 'delta_3m', 'delta_4m', 'delta_15m', 'delta_30m'];
const COLUMNS = ['id', 'timestamp', 'price', 'momentum', ...DELTAS];

const DDL = (table: string) => `CREATE TABLE IF NOT EXISTS live_data.${table} (
    id SERIAL PRIMARY KEY,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    price DECIMAL(20,8),
    momentum DECIMAL(10,6),
${DELTAS.map((d) => `    ${d} DECIMAL(10,6)`).join(',\n')}
)`;

/** --sqlite PATH (btc_price_history.db) and --json-dir DIR (the ETH snapshots). */
const OPTIONS = z.object({ sqlite: z.string({ error: 'is required (btc_price_history.db)' }).min(1), jsonDir: z.string({ error: 'is required (the ETH JSON snapshots)' }).min(1) }).strict();
type Options = z.infer<typeof OPTIONS>;
type Ctx = PhaseContext<Options>;

const sources = (ctx: Ctx): Options => ctx.options;

/** Cleanup moves the sources here (a fixed place, so rollback finds them after a crash too). */
function archiveMoves(ctx: Ctx): [string, string][] {
  const { sqlite, jsonDir } = sources(ctx);
  const archive = path.join(path.dirname(sqlite), 'archive');
  return [[sqlite, path.join(archive, path.basename(sqlite))], [jsonDir, path.join(archive, path.basename(jsonDir))]];
}

const jsonFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** Stream a query's rows out of SQLite with the sqlite3 CLI. */
function sqliteStream(file: string, sql: string, mode: 'csv' | 'list'): Readable {
  const child = spawn('sqlite3', ['-readonly', `-${mode}`, '-noheader', ...(mode === 'list' ? ['-separator', '|', '-nullvalue', '\\N'] : []), file, sql], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('close', (code) => {
    if (code !== 0) child.stdout.destroy(new ConfigError(`sqlite3 failed on ${file}: ${stderr.trim()}`));
  });
  return child.stdout;
}

// The same normalised text on both sides, so SQLite's REAL and TEXT equal PostgreSQL's DECIMAL and TIMESTAMP.
// SQLite's printf turns NULL into 0 and keeps -0.0's sign: test NULL first, add 0.0 to drop the sign.
const sqliteNumber = (column: string, decimals: number) => `CASE WHEN ${column} IS NULL THEN '' ELSE printf('%.${decimals}f', ${column} + 0.0) END`;
const SQLITE_ROW = `id || '|' || coalesce(strftime('%Y-%m-%dT%H:%M:%S', timestamp), '') || '|' || ${sqliteNumber('price', 8)} || '|' || ${sqliteNumber('momentum', 6)}${DELTAS.map((d) => ` || '|' || ${sqliteNumber(d, 6)}`).join('')}`;
const PG_ROW = `id::text || '|' || coalesce(to_char(timestamp, 'YYYY-MM-DD"T"HH24:MI:SS'), '') || '|' || coalesce(to_char(price, 'FM999999999990.00000000'), '') || '|' || coalesce(to_char(momentum, 'FM9990.000000'), '')${DELTAS.map((d) => ` || '|' || coalesce(to_char(${d}, 'FM9990.000000'), '')`).join('')}`;
const rowHash = (text: string): bigint => BigInt.asIntN(64, BigInt(`0x${crypto.createHash('md5').update(text).digest('hex').slice(0, 16)}`));

async function sqliteFingerprint(file: string): Promise<{ rows: number; hash: bigint }> {
  let rows = 0;
  let hash = 0n;
  for await (const line of readline.createInterface({ input: sqliteStream(file, `SELECT ${SQLITE_ROW} FROM btc_price_history`, 'list') })) {
    rows++;
    hash += rowHash(line);
  }
  return { rows, hash };
}

async function pgFingerprint(ctx: Ctx, table: string): Promise<{ rows: number; hash: bigint }> {
  const { rows } = await ctx.target.query<{ n: string; h: string }>(`SELECT count(*)::text AS n, coalesce(sum(('x' || substr(md5(${PG_ROW}), 1, 16))::bit(64)::bigint), 0)::text AS h FROM live_data.${table}`);
  return { rows: Number(rows[0]!.n), hash: BigInt(rows[0]!.h) };
}

function jsonRecords(file: string): Record<string, unknown>[] {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(parsed)) throw new ConfigError(`${file}: expected an array of price records`);
  return parsed as Record<string, unknown>[];
}

/** Parity (seed 002: "row counts, hash checks between old and new sources"). */
async function parity(ctx: Ctx) {
  // Where the sources are now: a cleanup that stopped part-way may have archived one already.
  const [sqlite, jsonDir] = archiveMoves(ctx).map(([from, to]) => (fs.existsSync(from) || !fs.existsSync(to) ? from : to)) as [string, string];
  const [btcSource, btcTarget] = await Promise.all([sqliteFingerprint(sqlite), pgFingerprint(ctx, 'btc_price_log')]);
  if (btcSource.rows !== btcTarget.rows || btcSource.hash !== btcTarget.hash) throw new VerificationError(`btc_price_log differs from SQLite: ${btcTarget.rows} vs ${btcSource.rows} rows${btcSource.rows === btcTarget.rows ? ', contents differ' : ''}`);
  const ethSource = jsonFiles(jsonDir).reduce((n, f) => n + jsonRecords(path.join(jsonDir, f)).length, 0);
  const ethTarget = (await pgFingerprint(ctx, 'eth_price_log')).rows;
  if (ethSource !== ethTarget) throw new VerificationError(`eth_price_log has ${ethTarget} rows, the JSON snapshots ${ethSource}`);
  return { btcRows: btcTarget.rows, ethRows: ethTarget };
}

/** The seed's DECIMAL columns: [column, scale, integer digits]. */
const DECIMALS: [string, number, number][] = [['price', 8, 12], ['momentum', 6, 4], ...DELTAS.map((d): [string, number, number] => [d, 6, 4])];

/**
 * Preflight's proof that no SQLite REAL or JSON number is rounded or
 * overflows its DECIMAL column (a double with at most 15 significant
 * digits prints and parses back to itself, so the test is exact).
 */
async function refuseValueChanges(sqlite: string, jsonDir: string): Promise<{ valueChecks: number }> {
  const counts = new Map<string, number>();
  const sql = DECIMALS.map(([c, s, i]) => `SELECT '${c}', count(*) FROM btc_price_history WHERE ${c} IS NOT NULL AND (CAST(printf('%.${s}f', ${c}) AS REAL) <> ${c} OR abs(${c}) >= 1e${i})`).join(' UNION ALL ');
  for await (const line of readline.createInterface({ input: sqliteStream(sqlite, sql, 'list') })) {
    const [column, n] = line.split('|');
    if (Number(n) > 0) counts.set(`btc_price_log.${column}`, Number(n));
  }
  for (const file of jsonFiles(jsonDir)) {
    for (const record of jsonRecords(path.join(jsonDir, file))) {
      for (const [c, s, i] of DECIMALS) {
        const v = record[c];
        if (typeof v === 'number' && (Number(v.toFixed(s)) !== v || Math.abs(v) >= 10 ** i)) counts.set(`eth_price_log.${c}`, (counts.get(`eth_price_log.${c}`) ?? 0) + 1);
      }
    }
  }
  if (counts.size) {
    const type = (column: string) => DECIMALS.filter(([c]) => column.endsWith(`.${c}`)).map(([, sc, i]) => `DECIMAL(${sc + i},${sc})`)[0];
    const named = [...counts].map(([column, n]) => `live_data.${column} ${type(column)}: ${n} value(s) would be rounded or overflow`);
    throw new RefusedError(`values would change in the seed's column types; nothing was changed: ${named.join('; ')}`);
  }
  return { valueChecks: DECIMALS.length * 2 };
}

const copyText = (v: unknown): string => (v === null || v === undefined ? '\\N' : String(v));

const phases: Phase<Options>[] = [
  {
    id: 'preflight',
    title: 'SQLite and JSON sources readable, live_data not yet created',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const { sqlite, jsonDir } = sources(ctx);
      if (!fs.existsSync(sqlite)) throw new ConfigError(`--sqlite: no such file ${sqlite}`);
      if (!fs.existsSync(jsonDir)) throw new ConfigError(`--json-dir: no such directory ${jsonDir}`);
      const { rows } = await sqliteFingerprint(sqlite);
      if ((await ctx.target.query("SELECT to_regnamespace('live_data') IS NOT NULL AS ok")).rows[0]?.ok) throw new ConfigError('schema live_data already exists on the target');
      return { btcRows: rows, jsonFiles: jsonFiles(jsonDir).length, ...(await refuseValueChanges(sqlite, jsonDir)) };
    },
  },
  {
    id: 'backup',
    title: 'SQLite file and JSON snapshots into the backup repository, with sha256',
    // A re-run writes a fresh, complete copy under a new prefix.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const { repo, env } = backupRepository(ctx);
      const { sqlite, jsonDir } = sources(ctx);
      const prefix = `${env}/files/${ctx.plan.id}-${new Date().toISOString().replace(/[-:.]/g, '')}`;
      const files: Record<string, string> = {};
      for (const file of [sqlite, ...jsonFiles(jsonDir).map((f) => path.join(jsonDir, f))]) {
        files[path.basename(file)] = (await repo.put(`${prefix}/${path.basename(file)}`, fs.createReadStream(file))).sha256;
      }
      return { prefix, files };
    },
  },
  {
    id: 'expand',
    title: "live_data schema with the seed's btc_price_log and eth_price_log",
    transaction: true,
    idempotent: true,
    async run(ctx) {
      await ctx.target.query(`CREATE SCHEMA IF NOT EXISTS live_data; ${DDL('btc_price_log')}; ${DDL('eth_price_log')}`);
    },
    async rollback(ctx) {
      await ctx.target.query('DROP SCHEMA IF EXISTS live_data CASCADE');
    },
  },
  {
    id: 'backfill',
    title: 'stream SQLite (CSV) and each JSON snapshot through COPY, one ledger batch per source',
    // Each source commits with its ledger row; a re-run copies only what is pending.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const { sqlite, jsonDir } = sources(ctx);
      const files = jsonFiles(jsonDir);
      const { batches } = await planBatches(ctx.target, ctx.plan.id, 'live_data', async () => [{ lo: 'sqlite', hi: sqlite }, ...files.map((f) => ({ lo: 'json', hi: f }))]);
      let rows = 0;
      let done = batches.filter((b) => b.state === 'done').length;
      for (const batch of batches.filter((b) => b.state === 'pending')) {
        const started = Date.now();
        rows += await inTransaction(ctx.target, async () => {
          let copied: number;
          if (batch.lo === 'sqlite') {
            const into = ctx.target.query(copyFrom(`COPY live_data.btc_price_log (${COLUMNS.join(', ')}) FROM STDIN (FORMAT csv)`));
            await pipeline(sqliteStream(sqlite, `SELECT ${COLUMNS.join(', ')} FROM btc_price_history ORDER BY id`, 'csv'), into);
            copied = Number(into.rowCount ?? 0);
          } else {
            const records = jsonRecords(path.join(jsonDir, batch.hi!));
            // Ids continue from the committed rows: a crashed batch's sequence values leave no gap.
            await ctx.target.query("SELECT setval('live_data.eth_price_log_id_seq', coalesce(max(id), 0) + 1, false) FROM live_data.eth_price_log");
            const into = ctx.target.query(copyFrom(`COPY live_data.eth_price_log (${COLUMNS.slice(1).join(', ')}) FROM STDIN`));
            await pipeline(Readable.from(records.map((r) => COLUMNS.slice(1).map((c) => copyText(r[c])).join('\t') + '\n')), into);
            copied = Number(into.rowCount ?? 0);
          }
          await markDone(ctx.target, ctx.plan.id, 'live_data', batch.batch, copied, Date.now() - started);
          return copied;
        });
        ctx.progress(++done, batches.length, 'sources');
        ctx.checkpoint('batch');
      }
      await ctx.target.query("SELECT setval('live_data.btc_price_log_id_seq', greatest(1, (SELECT max(id) FROM live_data.btc_price_log)))");
      return { rows, batches: batches.length };
    },
    async rollback(ctx) {
      await forgetBatches(ctx.target, ctx.plan.id, 'live_data');
      if ((await ctx.target.query("SELECT to_regnamespace('live_data') IS NOT NULL AS ok")).rows[0]?.ok) await ctx.target.query('TRUNCATE live_data.btc_price_log, live_data.eth_price_log RESTART IDENTITY');
    },
  },
  { id: 'verify', title: 'row counts and normalised row hashes, SQLite/JSON vs PostgreSQL', transaction: false, idempotent: true, run: parity },
  {
    id: 'dual-write',
    title: 'window opens: parity holds while legacy writers run (re-checked at cutover and cleanup)',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      return { ...(await parity(ctx)), windowStartedAt: new Date().toISOString() };
    },
  },
  {
    id: 'cutover',
    title: 'parity again; readers switch to live_data (config)',
    transaction: false,
    idempotent: true,
    async run(ctx) {
      return { ...(await parity(ctx)), readersSwitchedAt: new Date().toISOString() };
    },
  },
  {
    id: 'cleanup',
    title: 'archive the .db and .json files out of the runtime paths (not deleted)',
    // File moves: each is skipped when already done, so a re-run after a crash completes the rest.
    transaction: false,
    idempotent: true,
    async run(ctx) {
      const moved = archiveMoves(ctx);
      fs.mkdirSync(path.dirname(moved[0]![1]), { recursive: true });
      for (const [from, to] of moved) {
        if (!fs.existsSync(to)) fs.renameSync(from, to);
        ctx.checkpoint('moved');
      }
      return { moved };
    },
    async rollback(ctx) {
      for (const [from, to] of archiveMoves(ctx)) if (fs.existsSync(to) && !fs.existsSync(from)) fs.renameSync(to, from);
    },
  },
];

export const sqlitePriceLog = definePlan<Options>({
  id: 'sqlite-price-log',
  title: 'SQLite/JSON price logs → PostgreSQL live_data, parity by counts and hashes',
  source: 'seed 002',
  // Its source is files, not a PostgreSQL database.
  crossDatabase: false,
  options: OPTIONS,
  scope: () => '',
  phases,
  parity,
});
