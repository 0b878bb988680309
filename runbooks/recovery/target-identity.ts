import dns from 'node:dns/promises';
import net from 'node:net';
import type pg from 'pg';
import { withClient } from '../stores/postgres/connect';

/**
 * Lock keys name what a run acts on, not how its URL is spelled:
 * `localhost`, `127.0.0.1` and `::1` are one host, and a PostgreSQL
 * database is its cluster's system identifier plus its name.
 */
export async function hostIdentity(host: string, port: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '');
  let address = bare;
  if (!net.isIP(bare)) {
    try {
      address = (await dns.lookup(bare)).address;
    } catch {
      address = bare.toLowerCase();
    }
  }
  const loopback = address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
  return `${loopback ? 'loopback' : address}:${port}`;
}

/** The database need not exist yet (a restore creates it): then the cluster is asked through "postgres". */
export async function postgresIdentity(url: string): Promise<string> {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  const clusterOf = async (client: pg.Client): Promise<string> => {
    try {
      const id = (await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
      if (id) return `cluster-${id}`;
    } catch {
      /* no rights on pg_control_system(): the resolved host:port stands in */
    }
    return hostIdentity(u.hostname, u.port || '5432');
  };
  let cluster: string;
  try {
    cluster = await withClient(url, clusterOf);
  } catch {
    const maintenance = new URL(url);
    maintenance.pathname = '/postgres';
    cluster = await withClient(maintenance.toString(), clusterOf);
  }
  return `postgres:${cluster}/${database}`;
}

export async function serviceIdentity(store: 'redis' | 'qdrant', url: string): Promise<string> {
  const u = new URL(url);
  const port = u.port || (store === 'redis' ? '6379' : u.protocol === 'https:' ? '443' : '6333');
  return `${store}:${await hostIdentity(u.hostname, port)}`;
}
