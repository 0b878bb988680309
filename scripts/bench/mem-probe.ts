/**
 * The copy engine in-process, with the same peak figure the CLI reports
 * (getrusage maxrss, a high-water mark) beside RSS, heap and buffer memory
 * sampled every 20 ms: to tell the CLI's figure from the engine's own.
 * With --own-cluster the target is a second local cluster, as in copy-verify.ts;
 * with --cli the built CLI copies instead (its summary's maxRssMb).
 *   npx tsx scripts/bench/mem-probe.ts --source URL (--target-server URL | --own-cluster) [--jobs 2] [--table public.data_bars]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { copyAcross } from '../../runbooks/migrations/copy/cross-database';
import { baseSettings, clusterUrl, initCluster, socketDirFor, startCluster, stopCluster, writeClusterConf } from '../../runbooks/local/postgres-cluster';
import { freePort } from '../../runbooks/local/process';
import { chownTree, serviceUser } from '../../runbooks/local/service-user';
import { parseTableName } from '../../runbooks/stores/postgres/sql';
import { recreateDb, tickvault } from './common';

const { values } = parseArgs({ options: { source: { type: 'string' }, 'target-server': { type: 'string' }, 'own-cluster': { type: 'boolean', default: false }, cli: { type: 'boolean', default: false }, jobs: { type: 'string', default: '2' }, table: { type: 'string', default: 'public.data_bars' } } });
if (!values.source || (!values['target-server'] && !values['own-cluster'])) throw new Error('usage: mem-probe.ts --source URL (--target-server URL | --own-cluster)');
let server = values['target-server'];
let stop = async () => undefined;
if (values['own-cluster']) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-mem-probe-'));
  fs.chmodSync(work, 0o755);
  const user = await serviceUser();
  const port = await freePort();
  const spec = { dataDir: path.join(work, 'pg', 'data'), port, socketDir: socketDirFor(path.join(work, 'run'), 'probe'), logFile: path.join(work, 'pg', 'log') };
  fs.mkdirSync(path.dirname(spec.dataDir), { recursive: true });
  chownTree(work, user);
  await initCluster(spec, user, 'tickvault', 'probe-pass');
  writeClusterConf(spec.dataDir, { ...baseSettings(spec), wal_level: 'minimal', max_wal_senders: 0 });
  chownTree(work, user);
  await startCluster(spec, user);
  server = clusterUrl(port, 'tickvault', 'probe-pass', 'postgres');
  stop = async () => {
    await stopCluster(spec.dataDir, user, 'immediate');
    fs.rmSync(work, { recursive: true, force: true });
  };
}
try {
  const target = await recreateDb(server!, 'memprobe');
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as (keyof typeof peak)[]) peak[k] = Math.max(peak[k], m[k]);
  }, 20);
  const started = Date.now();
  const table = parseTableName(values.table!);
  if (values.cli) {
    // The same copy as users run it: the built CLI, its own peak from its summary.
    const common = ['--plan', 'copy-table', '--table', values.table!, '--source-url', values.source, '--target-url', target];
    await tickvault('migrate', ['run', '--phase', 'preflight', ...common]);
    const out = await tickvault('migrate', ['run', '--phase', 'backfill', ...common]);
    const summary = JSON.parse(out.stdout.trim().split('\n').at(-1)!);
    clearInterval(timer);
    console.log(JSON.stringify({ cli: true, ms: Date.now() - started, maxRssMb: summary.maxRssMb }));
  } else {
    const result = await copyAcross({ plan: 'mem-probe', sourceUrl: values.source, targetUrl: target, source: table, target: table, jobs: Number(values.jobs), schema: 'faithful' });
    clearInterval(timer);
    const mb = (b: number) => Math.round(b / 1048576);
    console.log(JSON.stringify({ rows: result.rows, ms: Date.now() - started, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), sampledPeakMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, mb(v)])) }));
  }
} finally {
  await stop();
}
