/**
 * Deterministic crash injection for tests: when TICKVAULT_KILL_AT names this
 * point, the process SIGKILLs itself right here (no cleanup, no finally),
 * exactly as kill -9 at that moment would. Unset in normal runs.
 */
export function killPoint(name: string): void {
  if (process.env.TICKVAULT_KILL_AT === name) process.kill(process.pid, 'SIGKILL');
}
