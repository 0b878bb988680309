import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../runbooks/engine/cli';
import { renderMarkdown, writeReports } from '../../runbooks/recovery/drill/report';
import { renderHtml } from '../../runbooks/recovery/drill/report-html';
import type { DrillReport, ScenarioResult } from '../../runbooks/recovery/drill/types';

const restore = (exitCode: number, steps: [string, number][], error?: string) => ({
  runbook: 'restore', args: ['postgres', '--latest'], exitCode, startedAt: Date.UTC(2026, 10, 22, 3, 0, 0), ms: steps.reduce((s, [, ms]) => s + ms, 0),
  summary: { run: `run-${exitCode}`, steps: steps.map(([step, ms]) => ({ step, ms, status: 'ok' })), ...(error ? { error: { code: 'TV_TARGET_MISSED', message: error } } : {}) },
});

const passed: ScenarioResult = {
  name: 'disaster 1: drop a table', scenario: 'deletion', disaster: 'DROP TABLE trades', recovery: 'logical restore --in-place', passed: true,
  checks: [{ check: 'trades is back', ok: true }], restore: restore(0, [['verify', 4000], ['swap', 1000]]), rtoMs: 5000, rtoTargetMs: 3_600_000, rpoMs: 40_000, rpoTargetMs: 86_400_000,
};
const failed: ScenarioResult = {
  name: 'disaster 2: delete rows', scenario: 'corruption', disaster: 'DELETE ticks', recovery: 'PITR', passed: false,
  checks: [{ check: 'the restore runbook succeeded: its own verification and RTO/RPO passed', ok: false, detail: 'exit 3: RPO missed' }],
  restore: restore(3, [['pgbackrest restore', 20_000]], 'RPO 2 h exceeds the 1 h target'), rtoMs: 20_000, rtoTargetMs: 7_200_000, rpoMs: 7_200_000, rpoTargetMs: 3_600_000,
};
const report: DrillReport = {
  run: 'drill-run', startedAt: '2026-11-22T03:00:00.000Z', finishedAt: '2026-11-22T03:02:00.000Z', scale: 0.1, passed: false, timescaledb: '2.28.3',
  backups: [{ runbook: 'backup', args: ['all'], exitCode: 0, startedAt: Date.UTC(2026, 10, 22, 3, 0, 0), ms: 3000, summary: { ids: ['pg-20261122-abc', 'redis-20261122-def'] } }],
  scenarios: [passed, failed], rehearsals: [], skipped: [],
};

describe('drill report', () => {
  const html = renderHtml(report);

  it('opens with a summary table coloured by margin, the failed scenario marked failed', () => {
    const table = html.slice(html.indexOf('<table class="summary">'), html.indexOf('</table>'));
    expect(table.indexOf('drop a table')).toBeLessThan(table.indexOf('delete rows'));
    const rowOf = (name: string) => table.split('<tr').find((r) => r.includes(name))!;
    expect(rowOf('drop a table')).toMatch(/class="pass"/);
    expect(rowOf('drop a table')).toMatch(/class="good">5\.0 s/);
    expect(rowOf('delete rows')).toMatch(/class="fail"/);
    expect(rowOf('delete rows')).toMatch(/class="missed">2 h|class="missed">120 min/);
    expect(rowOf('delete rows')).toContain('over');
    expect(rowOf('delete rows')).toMatch(/verdict">FAIL/);
  });

  it('states why a scenario failed in plain words, with the restore\'s real exit code', () => {
    expect(html).toContain('the restore runbook exited 3: it found its verification failed or an RTO/RPO target missed — RPO 2 h exceeds the 1 h target');
    expect(html).not.toMatch(/exited 0 \(its own verification/);
    expect(renderMarkdown(report)).toContain('**Why it failed**: the restore runbook exited 3');
  });

  it('draws every timeline on one shared axis and RPO on its own bar', () => {
    // The longest restore (20 s) spans the axis; the 4 s step of the other is 20% of it.
    expect(html).toMatch(/verify<\/span><span class="track"><span class="bar ok" style="left:0\.00%;width:20\.00%"/);
    expect(html).toMatch(/pgbackrest restore<\/span><span class="track"><span class="bar ok" style="left:0\.00%;width:100\.00%"/);
    expect((html.match(/RPO: data-loss window vs target/g) ?? []).length).toBe(2);
  });

  it('includes the backups, the TimescaleDB version, full width, and ISO times in report.json', () => {
    expect(html).toContain('pg-20261122-abc, redis-20261122-def');
    expect(html).toContain('TimescaleDB 2.28.3');
    expect(html).not.toContain('max-width');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-report-'));
    const files = writeReports(dir, report);
    const json = JSON.parse(fs.readFileSync(files.json, 'utf8')) as DrillReport & { backups: { startedAt: unknown }[] };
    expect(json.backups[0]!.startedAt).toBe('2026-11-22T03:00:00.000Z');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('a step whose verdict is a failure', () => {
  it('shows as failed on the terminal and in the summary, without throwing', async () => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-fail-'));
    await runCli({
      runbook: 'demo', usage: 'demo', audit: false,
      async main({ run }) {
        await run.step('disaster 1', async (step) => step.fail('FAIL · RTO 2.0 s'));
        await run.step('disaster 2', async (step) => step.note('PASS'));
      },
    }, { argv: [], stderr, stdout: new PassThrough(), env: { TICKVAULT_HOME: home } });
    expect(err).toMatch(/✗ disaster 1 +\S.*FAIL · RTO 2\.0 s/);
    expect(err).toMatch(/✓ disaster 2/);
    expect(err).toMatch(/disaster 1 +failed/);
    fs.rmSync(home, { recursive: true, force: true });
    process.exitCode = 0;
  });
});
