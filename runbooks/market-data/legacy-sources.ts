import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BTC_LEVEL } from './instruments';
import { Prng } from './prng';

/**
 * Seed 002's legacy stores: a SQLite btc_price_history.db written through
 * the sqlite3 CLI (streamed, one transaction) and a directory of ETH JSON
 * snapshots. Deterministic for a seed and end time.
 */
export async function writeLegacyPriceSources(dir: string, opts: { seed: number; rows: number; end: Date }): Promise<{ sqlite: string; jsonDir: string; btcRows: number; ethRows: number }> {
  fs.mkdirSync(dir, { recursive: true });
  const sqlite = path.join(dir, 'btc_price_history.db');
  const jsonDir = path.join(dir, 'snapshots');
  fs.rmSync(sqlite, { force: true });
  fs.mkdirSync(jsonDir, { recursive: true });
  const rng = new Prng(opts.seed, 'legacy:btc');
  const start = opts.end.getTime() - opts.rows * 60_000;
  const stamp = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  const child = spawn('sqlite3', [sqlite], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const write = (text: string) => new Promise<void>((resolve) => (child.stdin.write(text) ? resolve() : child.stdin.once('drain', resolve)));
  await write('BEGIN;\nCREATE TABLE btc_price_history (id INTEGER PRIMARY KEY, timestamp TEXT, price REAL, momentum REAL, delta_1m REAL, delta_2m REAL, delta_3m REAL, delta_4m REAL, delta_15m REAL, delta_30m REAL);\n');
  let price = BTC_LEVEL;
  for (let i = 1; i <= opts.rows; i++) {
    price = Number((price * (1 + 0.0008 * rng.normal())).toFixed(2));
    const d = () => (rng.next() < 0.02 ? 'NULL' : (rng.normal() * 0.5).toFixed(6));
    await write(`INSERT INTO btc_price_history VALUES (${i}, '${stamp(start + i * 60_000)}', ${price}, ${d()}, ${d()}, ${d()}, ${d()}, ${d()}, ${d()}, ${d()});\n`);
  }
  await write('COMMIT;\n');
  child.stdin.end();
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`sqlite3 could not write ${sqlite}: ${stderr.trim()}`);

  const eth = new Prng(opts.seed, 'legacy:eth');
  let ethRows = 0;
  let ethPrice = 3200;
  const files = Math.max(1, Math.ceil(opts.rows / 1000));
  for (let f = 0; f < files; f++) {
    const records = Array.from({ length: Math.min(1000, opts.rows - f * 1000) }, (_, k) => {
      ethPrice = Number((ethPrice * (1 + 0.001 * eth.normal())).toFixed(2));
      return { timestamp: stamp(start + (f * 1000 + k) * 60_000), price: ethPrice, momentum: Number((eth.normal() * 0.4).toFixed(6)), delta_1m: Number((eth.normal() * 0.3).toFixed(6)), delta_2m: null, delta_3m: null, delta_4m: null, delta_15m: Number((eth.normal() * 0.8).toFixed(6)), delta_30m: null };
    });
    ethRows += records.length;
    fs.writeFileSync(path.join(jsonDir, `eth_price_${String(f).padStart(4, '0')}.json`), JSON.stringify(records));
  }
  return { sqlite, jsonDir, btcRows: opts.rows, ethRows };
}
