import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runTool } from '../../engine/tool';
import { libpqConnection, pgBin } from '../../stores/postgres/binaries';
import type { TocEntry } from './toc';

/** pg_dump --schema-only into a temporary custom-format file. */
export async function schemaDump(sourceUrl: string, dir: string, name: string, tables: string[]): Promise<string> {
  const { conninfo, env } = libpqConnection(sourceUrl);
  const file = path.join(dir, `${name}.dump`);
  const selectors = tables.flatMap((t) => ['--table', t]);
  await runTool(pgBin('pg_dump'), ['--format=custom', '--schema-only', '--no-password', ...selectors, `--file=${file}`, `--dbname=${conninfo}`], { env: { ...process.env, ...env } });
  return file;
}

/** SQL for the chosen TOC entries of a dump (pg_restore -L), owners and grants left out. */
export async function restoreScript(file: string, entries: TocEntry[], section?: 'pre-data' | 'post-data'): Promise<string> {
  if (entries.length === 0) return '';
  const list = `${file}.${crypto.randomUUID()}.list`;
  fs.writeFileSync(list, entries.map((e) => e.line).join('\n') + '\n');
  const out = await runTool(pgBin('pg_restore'), ['--no-owner', '--no-privileges', `--use-list=${list}`, ...(section ? [`--section=${section}`] : []), '--file=-', file]);
  return executable(out.stdout);
}

/**
 * pg_restore's script for psql minus psql's \restrict guard lines; we run it
 * through a client, which interprets no meta-commands at all.
 */
function executable(script: string): string {
  const lines = script.split('\n').filter((l) => !/^\\(un)?restrict /.test(l));
  const meta = lines.find((l) => l.startsWith('\\'));
  if (meta) throw new Error(`pg_restore produced a psql meta-command the copy cannot run: ${meta.slice(0, 80)}`);
  return lines.join('\n');
}

