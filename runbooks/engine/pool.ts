import net from 'node:net';
import path from 'node:path';
import type pg from 'pg';

/**
 * One worker pool for every parallel job (copy batches, seed loads,
 * fingerprints, transfers). Each worker opens its own resources (for
 * example two connections) and takes items from a shared queue.
 *
 * On the first failure the pool stops handing out work, aborts the shared
 * signal, asks every busy sibling to cancel what it is running (cancel:
 * pg_cancel_backend, destroying a stream), and closes every worker's
 * resources in `finally` whether it failed, was cancelled or finished.
 * The first error is the one thrown; the siblings' cancellation errors are
 * consequences, not causes, and are dropped.
 */
export interface PoolOptions<W> {
  /** Upper bound on workers; never more than there are items. */
  workers: number;
  /** Open one worker's resources. */
  open: (index: number) => Promise<W>;
  /** Release them; called exactly once for every opened worker. */
  close?: (worker: W) => Promise<void>;
  /** Interrupt what a busy worker is doing right now (a sibling failed). */
  cancel?: (worker: W) => Promise<void>;
  /** An outer signal; aborting it stops the pool like a failure would. */
  signal?: AbortSignal;
}

export interface PoolStats {
  /** Items handed to a worker. */
  started: number;
  /** Items finished without error. */
  finished: number;
}

export class PoolStoppedError extends Error {
  constructor(reason: unknown) {
    super(`worker pool stopped: ${(reason as Error)?.message ?? String(reason)}`);
    this.name = 'PoolStoppedError';
  }
}

/** Run work(item) for every item on at most `workers` workers; results in item order. */
export async function runPool<I, W, R>(items: Iterable<I>, opts: PoolOptions<W>, work: (item: I, worker: W, signal: AbortSignal) => Promise<R>, stats: PoolStats = { started: 0, finished: 0 }): Promise<R[]> {
  const queue = [...items].map((item, index) => ({ item, index }));
  const results = new Array<R>(queue.length);
  if (queue.length === 0) return results;
  const abort = new AbortController();
  let failure: { error: unknown } | undefined;
  const busy = new Set<W>();

  const stop = (error: unknown) => {
    if (failure) return;
    failure = { error };
    abort.abort(error);
    for (const sibling of busy) void opts.cancel?.(sibling).catch(() => undefined);
  };
  const onOuterAbort = () => stop(opts.signal?.reason ?? new PoolStoppedError('aborted'));
  if (opts.signal?.aborted) onOuterAbort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const runWorker = async (index: number) => {
    if (failure) return;
    let worker: W;
    try {
      worker = await opts.open(index);
    } catch (error) {
      stop(error);
      return;
    }
    try {
      for (let next = failure ? undefined : queue.shift(); next; next = failure ? undefined : queue.shift()) {
        stats.started++;
        busy.add(worker);
        try {
          results[next.index] = await work(next.item, worker, abort.signal);
          stats.finished++;
        } finally {
          busy.delete(worker);
        }
      }
    } catch (error) {
      stop(error);
    } finally {
      await opts.close?.(worker).catch(() => undefined);
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, queue.length)) }, (_, i) => runWorker(i)));
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (failure) throw failure.error;
  return results;
}

/**
 * Cancel the query a client is running, the way psql's Ctrl-C does: a
 * CancelRequest on a fresh socket with the backend's pid and secret key
 * (works across servers and needs no second login). Idle clients are left alone.
 */
export function cancelActiveQuery(client: pg.Client): void {
  const c = client as unknown as { _getActiveQuery?: () => unknown; processID?: number | null; secretKey?: number | null; connectionParameters: { host?: string; port?: number } };
  if (!c._getActiveQuery?.() || c.processID == null || c.secretKey == null) return;
  const { host = 'localhost', port = 5432 } = c.connectionParameters;
  const socket = host.startsWith('/') ? net.connect(path.join(host, `.s.PGSQL.${port}`)) : net.connect(port, host);
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4); // CancelRequest code
    packet.writeInt32BE(c.processID!, 8);
    packet.writeInt32BE(c.secretKey!, 12);
    socket.end(packet);
  });
}

/** Pool callbacks for workers holding PostgreSQL connections: cancel their queries, end them all. */
export function pgWorker<W>(clientsOf: (worker: W) => (pg.Client | undefined)[]): Pick<PoolOptions<W>, 'cancel' | 'close'> {
  return {
    async cancel(worker) {
      for (const client of clientsOf(worker)) if (client) cancelActiveQuery(client);
    },
    async close(worker) {
      await Promise.all(clientsOf(worker).map((c) => c?.end().catch(() => undefined)));
    },
  };
}
