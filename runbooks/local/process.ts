import fs from 'node:fs';
import net from 'node:net';
import { pidAlive, waitFor } from '../engine/wait';

export { pidAlive, waitFor } from '../engine/wait';

/** The command line of a live process, to make sure a pid is still ours. */
export function processCommand(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** True when pid is alive and its command line contains `marker`. */
export function isOurProcess(pid: number | undefined, marker: string): boolean {
  return pidAlive(pid) && processCommand(pid!).includes(marker);
}

/** Stop a process we started: SIGTERM, wait, then SIGKILL. */
export async function stopPid(pid: number, timeoutMs = 15_000): Promise<void> {
  if (!pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  if (await waitFor(() => !pidAlive(pid), timeoutMs)) return;
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !pidAlive(pid), 5000);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Reuse a remembered port when it is still free, else pick a new one. */
export async function choosePort(previous: number | undefined): Promise<number> {
  if (previous && (await portFree(previous))) return previous;
  return freePort();
}
