import path from 'node:path';
import { $ } from '../../engine/shell';
import { projectRoot } from '../../engine/paths';

export interface Invocation {
  runbook: string;
  args: string[];
  exitCode: number;
  summary: Record<string, any>;
  startedAt: number;
  ms: number;
}

/**
 * Run another runbook as users do (a separate process, --json) and return
 * its summary line: the drill exercises the real CLIs, not their internals.
 */
/**
 * A child's argv is visible to every user (ps): URLs go without their
 * password, which travels in the environment (PGPASSWORD, REDISCLI_AUTH).
 */
export function passwordsToEnv(args: string[]): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const out = args.map((arg) => {
    let url: URL;
    try {
      url = new URL(arg);
    } catch {
      return arg;
    }
    if (!url.password) return arg;
    const name = /^postgres(ql)?:$/.test(url.protocol) ? 'PGPASSWORD' : /^rediss?:$/.test(url.protocol) ? 'REDISCLI_AUTH' : undefined;
    if (!name) return arg;
    const password = decodeURIComponent(url.password);
    if (env[name] !== undefined && env[name] !== password) throw new Error(`two different ${name} passwords in one invocation; cannot keep both off the command line`);
    env[name] = password;
    url.password = '';
    return url.toString();
  });
  return { args: out, env };
}

export async function invokeRunbook(runbook: string, rawArgs: string[], env: Record<string, string>): Promise<Invocation> {
  const startedAt = Date.now();
  const { args, env: secrets } = passwordsToEnv(rawArgs);
  const out = await $({ env: { ...process.env, ...env, ...secrets }, cwd: projectRoot, nothrow: true })`${process.execPath} --import tsx ${path.join('runbooks', `${runbook}.ts`)} ${args} --json`;
  const lines = out.stdout.trim().split('\n').filter(Boolean);
  let summary: Record<string, any> = {};
  try {
    summary = JSON.parse(lines.at(-1) ?? '{}') as Record<string, any>;
  } catch {
    summary = { ok: false, error: { message: `unparseable output: ${out.stderr.trim().split('\n').at(-1) ?? ''}` } };
  }
  return { runbook, args, exitCode: out.exitCode ?? 1, summary, startedAt, ms: Date.now() - startedAt };
}
