import path from 'node:path';
import { $ } from 'zx';
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
export async function invokeRunbook(runbook: string, args: string[], env: Record<string, string>): Promise<Invocation> {
  const startedAt = Date.now();
  const out = await $({ env: { ...process.env, ...env }, cwd: projectRoot, nothrow: true })`${process.execPath} --import tsx ${path.join('runbooks', `${runbook}.ts`)} ${args} --json`;
  const lines = out.stdout.trim().split('\n').filter(Boolean);
  let summary: Record<string, any> = {};
  try {
    summary = JSON.parse(lines.at(-1) ?? '{}') as Record<string, any>;
  } catch {
    summary = { ok: false, error: { message: `unparseable output: ${out.stderr.trim().split('\n').at(-1) ?? ''}` } };
  }
  return { runbook, args, exitCode: out.exitCode ?? 1, summary, startedAt, ms: Date.now() - startedAt };
}
