import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { $ } from 'zx';
import { sql } from './common';
import { burst, probeOnTarget, MARKER_ID, now, sampleLag, SteadyWriter, tableHash, until, type LagSamples } from './cdc-workload';

/**
 * The same workload through `pgcopydb follow` (the apt package, 0.10 here:
 * wal2json plugin, JSON → SQL files per WAL segment, replication origin on
 * the target), driven as its docs describe: `stream setup` (slot, sentinel
 * table, origin) before the changes, `sentinel set apply`, `follow`; at
 * cutover writes stop, `sentinel set endpos --current`, and follow exits
 * once it has replayed up to there.
 */
export interface PgcopydbFigures {
  version: string;
  changes: number;
  /** Spawn of follow → marker on the target (start-up, prefetch, transform, file pick-up, apply). */
  catchUpMs: number;
  /** First transaction applied (origin moved) → marker on the target: the apply alone. */
  applyMs: number;
  changesPerSecond: number;
  applyOnlyChangesPerSecond: number;
  lag: LagSamples;
  written: number;
  /** Writes stopped → follow exited at endpos (the switchover in its docs). */
  cutoverWritePauseMs: number;
  equal: boolean;
  /** The row with 9-digit id and 7-digit price: 'exact' or how it was altered. */
  probe: string;
}

const SLOT = 'bench_pgcopydb';

function startFollow(dir: string, args: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  const log = fs.openSync(path.join(dir, 'follow.log'), 'a');
  const child = spawn('pgcopydb', ['follow', ...args, '--resume', '--not-consistent'], { stdio: ['ignore', log, log] });
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

export async function pgcopydbFollow(source: string, target: string, opts: { rows: number; changes: number; rate: number; seconds: number }): Promise<PgcopydbFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pgcopydb-'));
  const common = ['--source', source, '--target', target, '--dir', dir, '--slot-name', SLOT, '--origin', SLOT];
  const version = (await $`pgcopydb --version`).stdout.split('\n').find((l) => l.startsWith('pgcopydb version'))?.replace('pgcopydb version ', '') ?? '?';
  // Replication origins are cluster-wide: one left by an interrupted run would make setup fail.
  await sql(target, `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = '${SLOT}'`);
  await $`pgcopydb stream setup ${common}`;
  let follow: ChildProcess | undefined;
  let ok = false;
  const src = new pg.Client({ connectionString: source });
  const dst = new pg.Client({ connectionString: target });
  const writerClient = new pg.Client({ connectionString: source });
  await Promise.all([src.connect(), dst.connect(), writerClient.connect()]);
  try {
    const applied = async () => (await dst.query<{ lsn: string | null }>('SELECT pg_replication_origin_progress($1, true)::text AS lsn', [SLOT])).rows[0]!.lsn;
    const startLsn = await applied();
    const changes = await burst(source, opts.rows, opts.changes);
    const backlogEnd = (await src.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    await $`pgcopydb stream sentinel set apply --source ${source}`;

    // Catch-up of the backlog: follow --endpos at the backlog's end (0.10 applies a WAL segment's
    // changes only once that segment's file is closed: at the next segment, or at endpos).
    const spawned = now();
    const first = startFollow(dir, [...common, '--endpos', backlogEnd]);
    follow = first.child;
    let firstApplied = 0;
    const done = await until(async () => {
      if (!firstApplied && (await applied()) !== startLsn) firstApplied = now();
      return (await dst.query('SELECT 1 FROM public.ticks WHERE id = $1', [MARKER_ID])).rowCount === 1;
    }, 20, 180_000);
    firstApplied ||= done;
    const firstCode = await first.exited;
    if (firstCode !== 0) throw new Error(`pgcopydb follow --endpos exited ${firstCode}: see ${dir}/follow.log`);

    // Follow again, without an end, for the steady writer.
    await $`pgcopydb stream sentinel set endpos --source ${source} 0/0`;
    const second = startFollow(dir, common);
    follow = second.child;
    // Lag under a steady write rate while follow runs.
    const writer = new SteadyWriter(writerClient, opts.rate, opts.rows);
    const since = new Date();
    writer.start();
    const end = now() + opts.seconds * 1000;
    const lag = await sampleLag(src, dst, applied, () => now() < end, since);
    await writer.stop();

    // Switchover: writes stopped; follow replays up to the current LSN and exits.
    const stopped = now();
    await $`pgcopydb stream sentinel set endpos --current --source ${source}`;
    const code = await second.exited;
    const cutoverWritePauseMs = Math.round(now() - stopped);
    follow = undefined;
    if (code !== 0) throw new Error(`pgcopydb follow exited ${code}: see ${dir}/follow.log`);
    const equal = (await tableHash(source)) === (await tableHash(target));
    const probe = await probeOnTarget(target);
    ok = true;
    return {
      version,
      changes,
      catchUpMs: Math.round(done - spawned),
      applyMs: Math.round(done - firstApplied),
      changesPerSecond: Math.round(changes / ((done - spawned) / 1000)),
      applyOnlyChangesPerSecond: Math.round(changes / (Math.max(1, done - firstApplied) / 1000)),
      lag,
      written: writer.written,
      cutoverWritePauseMs,
      equal,
      probe,
    };
  } finally {
    if (follow && follow.exitCode === null) {
      const gone = new Promise((resolve) => follow!.on('exit', resolve));
      follow.kill('SIGTERM');
      await gone;
    }
    await Promise.all([src.end(), dst.end(), writerClient.end()]);
    await $({ nothrow: true })`pgcopydb stream cleanup ${common}`;
    await sql(source, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${SLOT}'`);
    if (ok) fs.rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`pgcopydb's work directory and log kept: ${dir}\n`);
  }
}
