import fs from 'node:fs';
import { $, type ProcessOutput } from '../../engine/shell';
import { ConfigError, VerificationError } from '../../engine/errors';

/** A pgBackRest stanza as tickvault drives it (config file + stanza name). */
export interface PgBackRestTarget {
  configFile: string;
  stanza: string;
}

export interface PgBackRestBackup {
  label: string;
  type: 'full' | 'diff' | 'incr';
  timestamp: { start: number; stop: number };
  archive: { start: string; stop: string };
  info: { size: number; delta: number; repository: { size: number; delta: number } };
  lsn?: { start: string; stop: string };
}

export interface PgBackRestInfo {
  name: string;
  status: { code: number; message: string };
  backup: PgBackRestBackup[];
  archive: { id: string; min: string | null; max: string | null }[];
}

/**
 * pgBackRest must run as the cluster's OS user: when we are root, run it as
 * the owner of its config file (the local stack's service user).
 */
function asOwner(configFile: string): string[] {
  if (process.getuid?.() !== 0) return [];
  const { uid } = fs.statSync(configFile);
  if (uid === 0) return [];
  const name = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(uid))
    ?.split(':')[0];
  return name ? ['runuser', '-u', name, '--'] : [];
}

export function requireConfig(target: Partial<PgBackRestTarget>): PgBackRestTarget {
  if (!target.configFile || !target.stanza) {
    throw new ConfigError('physical backups need PGBACKREST_CONFIG and PGBACKREST_STANZA', { hint: 'the local stack sets both; for prod point them at the stanza on the database host' });
  }
  if (!fs.existsSync(target.configFile)) throw new ConfigError(`PGBACKREST_CONFIG: no such file ${target.configFile}`);
  return target as PgBackRestTarget;
}

export async function pgbackrest(target: PgBackRestTarget, args: string[], opts: { nothrow?: boolean; onOutputLine?: (line: string) => void } = {}): Promise<ProcessOutput> {
  const child = $`${asOwner(target.configFile)} pgbackrest ${`--config=${target.configFile}`} ${`--stanza=${target.stanza}`} ${args}`.nothrow();
  if (opts.onOutputLine) {
    // Console log lines as they come (progress); the output is still collected as usual.
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) opts.onOutputLine!(line);
    });
  }
  const out = await child;
  if (out.exitCode !== 0 && !opts.nothrow) {
    const message = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join(' ');
    // pgBackRest reports checksum and format problems with these codes (see its error.yaml).
    if (/ERROR: \[(0?39|0?40|0?44|0?45|0?53|0?61|0?62)\]/.test(message)) throw new VerificationError(`pgbackrest ${args[0]}: ${message}`);
    throw new Error(`pgbackrest ${args[0]} failed (exit ${out.exitCode}): ${message}`);
  }
  return out;
}

export async function pgbackrestInfo(target: PgBackRestTarget): Promise<PgBackRestInfo> {
  const out = await pgbackrest(target, ['info', '--output=json']);
  const stanzas = JSON.parse(out.stdout) as PgBackRestInfo[];
  const info = stanzas.find((s) => s.name === target.stanza);
  if (!info) throw new ConfigError(`pgBackRest stanza "${target.stanza}" not found`);
  return info;
}

export async function pgbackrestVersion(): Promise<string> {
  return (await $`pgbackrest version`.nothrow()).stdout.trim() || 'pgBackRest (unknown)';
}

/**
 * When the newest archived WAL segment reached the repository: the end of
 * what a replay of all archived WAL can recover. Null when it cannot be told.
 */
export async function archivedWalEnd(target: PgBackRestTarget): Promise<Date | null> {
  const info = await pgbackrestInfo(target);
  const archive = info.archive.at(-1);
  if (!archive?.max || !/^[0-9A-F]{24}$/.test(archive.max) || !/^[\w.-]+$/.test(archive.id)) return null;
  const out = await pgbackrest(target, ['repo-ls', '--output=json', `--filter=^${archive.max}`, `archive/${target.stanza}/${archive.id}/${archive.max.slice(0, 16)}`], { nothrow: true });
  if (out.exitCode !== 0) return null;
  const files = Object.values(JSON.parse(out.stdout || '{}') as Record<string, { time?: number }>);
  const newest = Math.max(...files.map((f) => f.time ?? 0));
  return newest > 0 ? new Date(newest * 1000) : null;
}
