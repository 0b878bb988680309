import type { ProcessPromise } from '../../engine/shell';
import type { Run } from '../../engine/run';

/**
 * Stop a child tool (pg_dump, pg_restore) if the run ends while it is still
 * running: a failed run must not leave it writing into a target or holding
 * a snapshot.
 */
export function stopWithRun<T extends ProcessPromise>(run: Run, child: T): T {
  let done = false;
  child.then(
    () => (done = true),
    () => (done = true),
  );
  run.onCleanup(async () => {
    if (!done) await child.kill('SIGTERM').catch(() => undefined);
  });
  return child;
}
