import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { logCommand } from './command-log';

export interface ToolOutput {
  stdout: string;
  stderr: string;
}

/** A failed tool: its exit code and what it printed on stderr. */
export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${tool} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim().split('\n').slice(-5).join('\n') || 'no output'}`);
  }
}

const quote = (arg: string): string => (/^[\w./=:@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/**
 * Run a short tool (pg_restore --list, pg_dump --schema-only, --version)
 * without a shell and without zx, whose import alone costs more than these
 * runs: the migration CLI starts in less time. The command line and its end
 * go to the run's command log, as zx's do; passwords travel in the env only.
 */
export function runTool(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; encoding?: BufferEncoding } = {}): Promise<ToolOutput> {
  const id = crypto.randomUUID().slice(0, 8);
  const started = performance.now();
  logCommand({ event: 'cmd', cmd: [file, ...args].map(quote).join(' '), id });
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env ?? process.env, maxBuffer: 512 * 1024 * 1024, encoding: opts.encoding ?? 'utf8' }, (error, stdout, stderr) => {
      const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      logCommand({ event: 'cmd-end', id, exitCode, ms: Math.round(performance.now() - started) });
      if (stderr) logCommand({ event: 'stderr', id, data: stderr.slice(0, 4000) });
      if (!error) return resolve({ stdout, stderr });
      reject(typeof error.code === 'string' && error.code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' ? error : new ToolError(path.basename(file), exitCode, stderr || error.message));
    });
  });
}
