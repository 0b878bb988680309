import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runRunbook } from '../helpers/runbook';
import { requireTimescale } from '../helpers/timescale';

describe('the DR drill', () => {
  it('recovers from all four disasters on its own stack and writes the reports', async () => {
    const stack = inject('stack');
    const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tv-drill-'));
    const drill = await runRunbook('drill', ['--json', '--scale', '0.03', '--report-dir', reportDir], { env: { TICKVAULT_HOME: stack.home } });
    expect(drill.code, drill.stdout.slice(-3000)).toBe(0);
    const scenarios = drill.summary!.scenarios as { name: string; passed: boolean; rtoMs: number; rpoMs: number }[];
    expect(scenarios.map((s) => s.passed)).toEqual([true, true, true, true]);
    for (const s of scenarios) expect(s.rtoMs).toBeGreaterThan(0);
    const report = JSON.parse(fs.readFileSync(path.join(reportDir, 'report.json'), 'utf8'));
    expect(report.passed).toBe(true);
    expect(fs.readFileSync(path.join(reportDir, 'report.md'), 'utf8')).toMatch(/DR drill ✅ PASSED/);
    expect(fs.readFileSync(path.join(reportDir, 'report.html'), 'utf8')).toMatch(/class="bar ok"/);
    // With TimescaleDB, tick_data was a compressed hypertable with aggregates, and every PostgreSQL disaster checked them.
    if (await requireTimescale(stack.postgresUrl, 'the drill on TimescaleDB')) {
      expect(report.timescaledb).toBe('2.28.3');
      expect(report.timescaleLayout).toMatch(/compressed\), 4 continuous aggregate/);
      expect(fs.readFileSync(path.join(reportDir, 'report.md'), 'utf8')).toMatch(/Drilled on \*\*TimescaleDB 2\.28\.3\*\*/);
      const postgresScenarios = report.scenarios.filter((s: { name: string }) => !/Redis/.test(s.name));
      for (const s of postgresScenarios) expect(s.checks.some((c: { check: string; ok: boolean }) => /continuous aggregates/.test(c.check) && c.ok), s.name).toBe(true);
    }
    // The drill stack is torn down afterwards.
    expect(fs.existsSync(path.join(stack.home, 'drill', 'local', 'state.json'))).toBe(false);
  }, 600_000);
});
