import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, query } from '../helpers/databases';
import { runRunbook, type RunbookOutput } from '../helpers/runbook';
import { stackEnv } from '../helpers/stack-env';

const stack = inject('stack');
const repoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-ids-'));
const env = stackEnv({ BACKUP_REPO: `file://${repoDir}` });

/** Sizes on disk by a tool that shares no code with tickvault: du -b of every file of the backup except its bookkeeping. */
async function duBytes(folder: string): Promise<number> {
  const files = (await $`find ${folder} -type f ! -name manifest.json ! -name ${'verify-*.json'} ! -name writing.json`).stdout.split('\n').filter(Boolean);
  const out = await $`du -b --apparent-size ${files}`;
  return out.stdout.split('\n').filter(Boolean).reduce((sum, line) => sum + Number(line.split('\t')[0]), 0);
}

/** A listing's rows as objects keyed by its header (columns are separated by two or more spaces). */
function parseTable(text: string): Record<string, string>[] {
  const [header, ...rows] = text.trimEnd().split('\n\n')[0]!.split('\n');
  const names = header!.split(/ {2,}/);
  return rows.map((r) => Object.fromEntries(r.split(/ {2,}/).map((cell, i) => [names[i]!, cell])));
}

type Progress = { step: string; done: number; total: number; elapsedMs: number; etaMs: number | null };
const progressOf = (out: RunbookOutput, step: RegExp): Progress[] => out.events.filter((e) => e.event === 'progress' && step.test(String(e.step))) as unknown as Progress[];

function expectMonotonicToCompletion(events: Progress[]): void {
  expect(events.length).toBeGreaterThan(0);
  for (let i = 1; i < events.length; i++) {
    expect(events[i]!.done).toBeGreaterThanOrEqual(events[i - 1]!.done);
    expect(events[i]!.total).toBeGreaterThanOrEqual(events[i - 1]!.total);
    expect(events[i]!.elapsedMs).toBeGreaterThanOrEqual(events[i - 1]!.elapsedMs);
  }
  for (const e of events) expect(e.done).toBeLessThanOrEqual(e.total);
  const last = events.at(-1)!;
  expect(last.total).toBeGreaterThan(0);
  expect(last.done).toBe(last.total);
  expect(last.etaMs).toBe(0);
}

describe('backup ids, list and info, progress', () => {
  let source: string;
  const logical: RunbookOutput[] = [];
  let physical: RunbookOutput;
  const ids: string[] = [];
  let physicalId: string;
  let label: string;

  beforeAll(async () => {
    source = await createDatabase(stack.postgresUrl, 'ids');
    await query(source, 'CREATE TABLE trades (id int PRIMARY KEY, px numeric)');
    await query(source, 'INSERT INTO trades SELECT g, g * 1.5 FROM generate_series(1, 20000) g');
    await query(source, 'CREATE TABLE "Odd ""Name"" x" (k text PRIMARY KEY)');
    await query(source, "INSERT INTO \"Odd \"\"Name\"\" x\" VALUES ('a'), ('b')");
    await query(source, 'CREATE INDEX ON trades (px)');
    for (let i = 0; i < 2; i++) {
      const out = await runRunbook('backup', ['postgres', '--json', '--database-url', source], { env });
      expect(out.code, out.stdout).toBe(0);
      logical.push(out);
      ids.push(out.summary!.id as string);
    }
    physical = await runRunbook('backup', ['postgres', '--kind', 'physical', '--json', '--database-url', source], { env });
    expect(physical.code, physical.stdout).toBe(0);
    physicalId = physical.summary!.id as string;
    label = (physical.summary!.backups as { label: string }[])[0]!.label;
  });

  it('every backup prints its id (physical: with the pgBackRest label beside it)', async () => {
    for (const [i, out] of logical.entries()) expect(out.events.find((e) => e.event === 'info' && e.backupId === ids[i])?.message).toMatch(new RegExp(`^backup ${ids[i]} · logical of `));
    expect(physical.events.find((e) => e.event === 'info' && e.backupId === physicalId)?.message).toContain(`${physicalId} (pgBackRest ${label})`);
    const human = await runRunbook('backup', ['redis'], { env });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toMatch(/backup redis-rdb-\d{8}T\d{6}Z-[0-9a-f]{4} · rdb of /);
  });

  it('backup list writes a table with a header to stdout; sizes match the backup step, the manifest and du', async () => {
    const out = await runRunbook('backup', ['list', '--store', 'postgres'], { env });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).not.toContain(ids[0]);
    const rows = parseTable(out.stdout);
    expect(Object.keys(rows[0]!)).toEqual(['ID', 'PGBACKREST LABEL', 'KIND', 'SOURCE', 'SIZE', 'FINISHED (UTC)', 'VERIFIED', 'RECOVERABLE (UTC)']);
    expect(rows.map((r) => r.ID)).toEqual([...ids, physicalId]);
    expect(rows.find((r) => r.ID === physicalId)).toMatchObject({ 'PGBACKREST LABEL': label, KIND: 'postgres physical' });
    expect(rows.find((r) => r.ID === ids[0])).toMatchObject({ 'PGBACKREST LABEL': '-', KIND: 'postgres logical', VERIFIED: 'not yet' });
    expect(rows.find((r) => r.ID === physicalId)!['RECOVERABLE (UTC)']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d → \d{4}-/);
    expect(out.stdout).toMatch(/PITR window \(pgBackRest stanza \S+\): \d{4}-.* → \d{4}-/);

    const json = await runRunbook('backup', ['list', '--json'], { env });
    expect(json.code).toBe(0);
    // One JSON document (a single line), like pgbackrest info --output=json.
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    const doc = JSON.parse(json.stdout) as { backups: { id: string; bytes: number; label?: string; pitr: { from: string; to: string | null; restorable: boolean } | null }[]; pitrWindow: { oldest: string; newest: string | null }; targets: unknown[] };
    expect(doc.targets.length).toBeGreaterThan(0);
    for (const [i, id] of ids.entries()) {
      const listed = doc.backups.find((b) => b.id === id)!;
      const folder = path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', id);
      const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as { files: { size: number }[] };
      expect(listed.bytes).toBe(manifest.files.reduce((s, f) => s + f.size, 0));
      expect(listed.bytes).toBe(await duBytes(folder));
      // The same figure the backup step reported.
      expect(listed.bytes).toBe((logical[i]!.summary!.backups as { bytes: number }[])[0]!.bytes);
    }
    // Physical: pgBackRest's own figure for the set, read by pgbackrest itself.
    const config = path.join(stack.home, 'local', 'pgbackrest', 'pgbackrest.conf');
    const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    const info = JSON.parse((await $`${asUser} pgbackrest --config=${config} --stanza=local info --output=json`).stdout) as { backup: { label: string; timestamp: { stop: number }; info: { repository: { delta: number } } }[] }[];
    const set = info[0]!.backup.find((b) => b.label === label)!;
    const phys = doc.backups.find((b) => b.id === physicalId)!;
    expect(phys.label).toBe(label);
    expect(phys.bytes).toBe(set.info.repository.delta);
    expect(phys.pitr).toMatchObject({ from: new Date(set.timestamp.stop * 1000).toISOString(), restorable: true });
    expect(new Date(doc.pitrWindow.oldest).getTime()).toBe(info[0]!.backup[0]!.timestamp.stop * 1000);
    expect(new Date(doc.pitrWindow.newest!).getTime()).toBeGreaterThanOrEqual(set.timestamp.stop * 1000);
  });

  it('backup info takes a unique prefix and a pgBackRest label; --json is one document', async () => {
    const prefix = ids[1]!.slice(0, -2);
    const out = await runRunbook('backup', ['info', prefix], { env });
    expect(out.code, out.stderr).toBe(0);
    const fields = Object.fromEntries(parseTable(out.stdout).map((r) => [r.FIELD, r.VALUE]));
    expect(fields.id).toBe(ids[1]);
    expect(fields.kind).toBe('postgres logical');
    expect(fields.size).toContain(`${((logical[1]!.summary!.backups as { bytes: number }[])[0]!.bytes).toLocaleString('en-US')} bytes`);
    const byLabel = await runRunbook('backup', ['info', label, '--json'], { env });
    expect(byLabel.code, byLabel.stdout).toBe(0);
    expect(byLabel.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(byLabel.stdout)).toMatchObject({ ok: true, backup: { id: physicalId, label, kind: 'physical', pitr: { restorable: true } } });
  });

  it('verify and restore accept a prefix, a label and latest; an ambiguous prefix is exit 2 naming the candidates', async () => {
    const verify = await runRunbook('backup', ['verify', ids[0]!.slice(0, -1), '--json'], { env });
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.summary!.id).toBe(ids[0]);
    const byLabel = await runRunbook('backup', ['verify', label, '--json'], { env });
    expect(byLabel.code, byLabel.stdout).toBe(0);
    expect(byLabel.summary).toMatchObject({ id: physicalId, label });
    const list = JSON.parse((await runRunbook('backup', ['list', '--json'], { env })).stdout) as { backups: { id: string; verified: boolean | null }[] };
    expect(list.backups.find((b) => b.id === ids[0])!.verified).toBe(true);

    const latest = await runRunbook('backup', ['info', 'latest', '--store', 'postgres', '--json'], { env });
    expect(latest.code, latest.stdout).toBe(0);
    expect((JSON.parse(latest.stdout) as { backup: { id: string } }).backup.id).toBe(physicalId);

    const ambiguous = await runRunbook('backup', ['info', 'postgres-logical-', '--json'], { env });
    expect(ambiguous.code).toBe(2);
    const doc = JSON.parse(ambiguous.stdout) as { ok: boolean; error: { message: string } };
    expect(doc.ok).toBe(false);
    for (const id of ids) expect(doc.error.message).toContain(id);
    const restoreAmbiguous = await runRunbook('restore', ['postgres', '--backup', 'postgres-', '--database-url', source, '--target-url', `${source}_x`, '--json'], { env });
    expect(restoreAmbiguous.code).toBe(2);
    expect(restoreAmbiguous.events.find((e) => e.event === 'error')?.message).toMatch(/matches 3 backups/);
    const none = await runRunbook('backup', ['verify', 'qdrant-snapshot-1999', '--json'], { env });
    expect(none.code).toBe(2);
    expect(none.events.find((e) => e.event === 'error')?.message).toMatch(/start with "qdrant-snapshot-1999"/);
  });

  it('hostile ids are refused with exit 2 before they reach a path or SQL', async () => {
    for (const hostile of ["postgres-'; DROP TABLE trades; --", '../../etc/passwd', '$(touch /tmp/tv-pwned)']) {
      for (const args of [['backup', 'info', hostile], ['backup', 'verify', hostile], ['restore', 'postgres', '--backup', hostile, '--database-url', source, '--target-url', `${source}_h`]]) {
        const out = await runRunbook(args[0]!, [...args.slice(1), '--json'], { env });
        expect(out.code, `${args.join(' ')}: ${out.stdout}`).toBe(2);
      }
    }
    expect(fs.existsSync('/tmp/tv-pwned')).toBe(false);
    expect(await query(source, 'SELECT count(*)::int AS n FROM trades')).toEqual([{ n: 20000 }]);
  });

  it('pg_dump and pg_restore report progress in TOC entries, monotonic, ending at M of M; the restore names its backup', async () => {
    expectMonotonicToCompletion(progressOf(logical[0]!, /^dump and fingerprint/));
    // Two tables with rows (the hostile name included).
    expect(progressOf(logical[0]!, /^dump and fingerprint/).at(-1)!.total).toBe(2);

    const target = `${source}_restored`;
    const restore = await runRunbook('restore', ['postgres', '--backup', ids[1]!.slice(0, -2), '--database-url', source, '--target-url', target, '--json', '--incident-time', new Date().toISOString()], { env });
    expect(restore.code, restore.stdout).toBe(0);
    expect(restore.summary!.backupId).toBe(ids[1]);
    expect(restore.events.find((e) => e.event === 'info' && e.backupId === ids[1])?.message).toMatch(/^restoring from backup /);
    const schemaAndData = progressOf(restore, /^pg_restore schema and data/);
    expectMonotonicToCompletion(schemaAndData);
    const postData = progressOf(restore, /indexes and constraints/);
    expectMonotonicToCompletion(postData);
    // Independent count: pg_restore --list per section (pre-data + data; post-data).
    const dump = path.join(repoDir, env.TICKVAULT_ENV!, 'postgres', ids[1]!, 'dump');
    const count = async (section: string) => (await $`pg_restore --list --section=${section} ${dump}`).stdout.split('\n').filter((l) => l.trim() && !l.startsWith(';')).length;
    expect(schemaAndData.at(-1)!.total).toBe((await count('pre-data')) + (await count('data')));
    expect(postData.at(-1)!.total).toBe(await count('post-data'));
  });
});
