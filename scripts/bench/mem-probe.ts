/**
 * The copy engine in-process, with the same peak figure the CLI reports
 * (getrusage maxrss, a high-water mark) beside RSS, heap and buffer memory
 * sampled every 20 ms: to tell the CLI's figure from the engine's own.
 *   npx tsx scripts/bench/mem-probe.ts SOURCE_URL TARGET_SERVER_URL [JOBS] [SCHEMA.TABLE]
 * The source table is copied into a fresh database "memprobe" on the target server.
 */
import { copyAcross } from '../../runbooks/migrations/copy/cross-database';
import { parseTableName } from '../../runbooks/stores/postgres/sql';
import { recreateDb } from './common';

const [src, server, jobs = '2', name = 'public.data_bars'] = process.argv.slice(2);
if (!src || !server) throw new Error('usage: mem-probe.ts SOURCE_URL TARGET_SERVER_URL [JOBS] [SCHEMA.TABLE]');
const target = await recreateDb(server, 'memprobe');
const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const timer = setInterval(() => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
}, 20);
const started = Date.now();
const table = parseTableName(name);
const result = await copyAcross({ plan: 'mem-probe', sourceUrl: src, targetUrl: target, source: table, target: table, jobs: Number(jobs), schema: 'faithful' });
clearInterval(timer);
const mb = (b: number) => Math.round(b / 1048576);
console.log(JSON.stringify({ rows: result.rows, ms: Date.now() - started, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), sampledPeakMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, mb(v)])) }));
