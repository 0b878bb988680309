import os from 'node:os';
import { pidAlive } from './wait';

/** Who holds something (a lock, a staging folder): a process on a host. */
export interface Owner {
  pid: number;
  host: string;
}

export const thisProcess = (): Owner => ({ pid: process.pid, host: os.hostname() });

export const onThisHost = (owner: Owner): boolean => owner.host === os.hostname();

/** Gone for sure: its process on this host has exited. An owner on another host is never judged by pid. */
export const ownerGone = (owner: Owner): boolean => onThisHost(owner) && !pidAlive(owner.pid);
