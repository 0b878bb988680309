import { expect } from 'vitest';
import { createDatabase, query } from './databases';
import { runRunbook, type RunbookOutput } from './runbook';
import { stackEnv } from './stack-env';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Adversarial review helpers: a source database built from SQL, backed up and restored through the CLI. */
export function advEnv(extra: Record<string, string> = {}) {
  const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-adv-'));
  return stackEnv({ BACKUP_REPO: `file://${repoDir}`, ...extra });
}

export async function sourceWith(adminUrl: string, prefix: string, sqls: string[]): Promise<string> {
  const db = await createDatabase(adminUrl, prefix);
  for (const sql of sqls) await query(db, sql);
  return db;
}

export async function backup(env: Record<string, string>, source: string): Promise<string> {
  const r = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.summary!.id as string;
}

export async function restore(env: Record<string, string>, source: string, id: string, extra: string[] = []): Promise<RunbookOutput & { target: string }> {
  const target = new URL(source);
  target.pathname = `/adv_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const r = await runRunbook('restore', ['postgres', '--backup', id, '--target-url', target.toString(), '--json', ...extra], { env });
  return { ...r, target: target.toString() };
}

export const errorOf = (r: RunbookOutput) => r.events.find((e) => e.event === 'error')?.message as string | undefined;
export const earlyOf = (r: RunbookOutput) =>
  r.events.find((e) => e.event === 'end' && String(e.step).includes('verify row counts'))?.hashedWhileLoading as { parts: number; rows: number } | undefined;
export const verifiedAfterPostDataOf = (r: RunbookOutput) =>
  r.events.find((e) => e.event === 'end' && String(e.step).includes('verify row counts'))?.verifiedAfterPostData as string[] | undefined;
