import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, UsageError } from '../engine/errors';
import { applyToDotenv, dotenvEntries, dotenvProblems, formatValue, parseDotenv } from './dotenv';

/** What a source holds: ordered key/values, and the exact bytes for files. */
export interface EnvContent {
  entries: [string, string][];
  document?: Buffer;
  format: 'dotenv' | 'json' | 'env' | 'ssm';
}

export interface EnvLocation {
  kind: 'dotenv' | 'json' | 'env' | 'ssm';
  /** A path, an env-var prefix, or an SSM path. */
  target: string;
  label: string;
}

/** dotenv:PATH, json:PATH, env:PREFIX (this process's environment), ssm:/path/ */
export function parseLocation(spec: string): EnvLocation {
  // A bare path is a file: `--from .env` means dotenv:.env (json: for *.json).
  if (spec && !/^[a-z][a-z0-9+.-]*:/i.test(spec)) return parseLocation(`${/\.json$/i.test(spec) ? 'json' : 'dotenv'}:${spec}`);
  const m = /^(dotenv|json|env|ssm):(.*)$/.exec(spec);
  if (!m) throw new UsageError(`not a source or target: "${spec}" (use a file path, dotenv:PATH, json:PATH, env:PREFIX or ssm:/path/)`);
  const kind = m[1] as EnvLocation['kind'];
  if (kind !== 'env' && !m[2]) throw new UsageError(`${kind}: needs a ${kind === 'ssm' ? 'path' : 'file'}`);
  return { kind, target: m[2]!, label: spec };
}

async function ssmClient() {
  const { SSMClient } = await import('@aws-sdk/client-ssm');
  return new SSMClient({});
}

const ssmPrefix = (p: string): string => (p.endsWith('/') ? p : `${p}/`);

export async function readLocation(loc: EnvLocation): Promise<EnvContent> {
  switch (loc.kind) {
    case 'dotenv': {
      if (!fs.existsSync(loc.target)) throw new ConfigError(`${loc.label}: no such file`);
      const document = fs.readFileSync(loc.target);
      const lines = parseDotenv(document.toString('utf8'));
      const problems = dotenvProblems(lines);
      if (problems.length) throw new ConfigError(`${loc.label}: ${problems.slice(0, 5).join('; ')}`, { hint: 'fix these lines (or quote the values) and run again' });
      const entries = dotenvEntries(lines);
      // A file with content but no keys is almost certainly not what the operator meant to seal.
      if (entries.length === 0 && document.toString('utf8').trim() !== '') throw new ConfigError(`${loc.label}: the file is not empty but yields no keys`);
      return { entries, document, format: 'dotenv' };
    }
    case 'json': {
      if (!fs.existsSync(loc.target)) throw new ConfigError(`${loc.label}: no such file`);
      const document = fs.readFileSync(loc.target);
      let parsed: unknown;
      try {
        parsed = JSON.parse(document.toString('utf8'));
      } catch (error) {
        throw new ConfigError(`${loc.label}: not JSON (${(error as Error).message})`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${loc.label}: expected an object of KEY: value`);
      return { entries: Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]), document, format: 'json' };
    }
    case 'env':
      return { entries: Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith(loc.target) && e[1] !== undefined).sort(([a], [b]) => a.localeCompare(b)), format: 'env' };
    case 'ssm': {
      const { GetParametersByPathCommand } = await import('@aws-sdk/client-ssm');
      const client = await ssmClient();
      const prefix = ssmPrefix(loc.target);
      const entries: [string, string][] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new GetParametersByPathCommand({ Path: prefix, WithDecryption: true, Recursive: false, NextToken: token }));
        for (const p of page.Parameters ?? []) entries.push([p.Name!.slice(prefix.length), p.Value ?? '']);
        token = page.NextToken;
      } while (token);
      return { entries: entries.sort(([a], [b]) => a.localeCompare(b)), format: 'ssm' };
    }
  }
}

/**
 * Write desired values to a target. Files keep their layout (or take the
 * snapshot's exact bytes when given and equivalent); keys not desired are
 * removed (the caller decides that with --prune).
 */
export async function writeLocation(loc: EnvLocation, desired: Map<string, string>, exact?: Buffer): Promise<void> {
  switch (loc.kind) {
    case 'dotenv': {
      const current = fs.existsSync(loc.target) ? fs.readFileSync(loc.target, 'utf8') : '';
      const text = exact ? exact : Buffer.from(applyToDotenv(parseDotenv(current), desired));
      writeAtomically(loc.target, text);
      return;
    }
    case 'json': {
      writeAtomically(loc.target, exact ?? Buffer.from(JSON.stringify(Object.fromEntries(desired), null, 2) + '\n'));
      return;
    }
    case 'env':
      throw new UsageError('env: is a source only; a process environment cannot be written. Use export --format shell');
    case 'ssm': {
      const { PutParameterCommand, DeleteParametersCommand } = await import('@aws-sdk/client-ssm');
      const client = await ssmClient();
      const prefix = ssmPrefix(loc.target);
      const current = new Map((await readLocation(loc)).entries);
      for (const [key, value] of desired) {
        if (current.get(key) !== value) await client.send(new PutParameterCommand({ Name: `${prefix}${key}`, Value: value, Type: 'SecureString', Overwrite: true }));
      }
      const gone = [...current.keys()].filter((k) => !desired.has(k)).map((k) => `${prefix}${k}`);
      for (let i = 0; i < gone.length; i += 10) await client.send(new DeleteParametersCommand({ Names: gone.slice(i, i + 10) }));
      return;
    }
  }
}

/**
 * Write a file through a temp file in its own folder, created exclusively
 * (O_EXCL, O_NOFOLLOW: a planted symlink is neither followed nor reused),
 * then renamed over the target (which replaces a symlink, never writes
 * through it). `mode` is applied as given; by default the target's own.
 */
export function writeExclusive(file: string, data: Buffer, mode?: number): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.tickvault-${crypto.randomBytes(6).toString('hex')}`);
  const finalMode = mode ?? (fs.existsSync(file) ? fs.statSync(file).mode & 0o777 : 0o600);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, data);
    fs.fchmodSync(fd, finalMode);
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

const writeAtomically = (file: string, data: Buffer): void => writeExclusive(file, data);

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function renderExport(entries: [string, string][], format: 'dotenv' | 'json' | 'shell'): string {
  if (format === 'json') return JSON.stringify(Object.fromEntries(entries), null, 2) + '\n';
  if (format === 'shell') {
    const bad = entries.map(([k]) => k).filter((k) => !SHELL_NAME.test(k));
    if (bad.length) throw new UsageError(`--format shell: ${bad.map((k) => JSON.stringify(k)).join(', ')} cannot be shell variable names; use --format dotenv or json`);
    // Single quotes: nothing inside is expanded; a quote is closed, escaped and reopened.
    return entries.map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`).join('\n') + '\n';
  }
  return entries.map(([k, v]) => `${k}=${formatValue(v)}`).join('\n') + '\n';
}
