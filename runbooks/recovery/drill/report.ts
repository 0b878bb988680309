import fs from 'node:fs';
import path from 'node:path';
import { formatMs } from '../../engine/format';
import { renderHtml } from './report-html';
import type { DrillReport } from './types';
import { failureCauses, margin } from './verdicts';

const ms = (v: number | null | undefined): string => (v == null ? 'n/a' : formatMs(v));

export function renderMarkdown(report: DrillReport): string {
  const lines = [
    `# tickvault DR drill ${report.passed ? '✅ PASSED' : '❌ FAILED'}`,
    '',
    `Run \`${report.run}\` · ${report.startedAt} → ${report.finishedAt} · scale ${report.scale}`,
    '',
    report.timescaledb ? `Drilled on **TimescaleDB ${report.timescaledb}**: ${report.timescaleLayout ?? ''}` : 'Drilled **without TimescaleDB** (not installed and preloaded): tick_data was a plain table',
    '',
    '| scenario | RTO (target) | RTO margin | RPO (target) | RPO margin | result |',
    '| --- | --- | --- | --- | --- | --- |',
    ...report.scenarios.map((s) => `| ${s.name} (${s.scenario}) | ${ms(s.rtoMs)} (${ms(s.rtoTargetMs)}) | ${margin(s.rtoMs, s.rtoTargetMs)} | ${ms(s.rpoMs)} (${ms(s.rpoTargetMs)}) | ${margin(s.rpoMs, s.rpoTargetMs)} | ${s.passed ? 'PASS' : 'FAIL'} |`),
    '',
  ];
  for (const s of report.scenarios) {
    lines.push(`## ${s.name}: ${s.passed ? 'PASS' : 'FAIL'}`, '', `- Disaster: ${s.disaster}`, `- Recovery: ${s.recovery}`);
    if (s.restore) lines.push(`- Restore run \`${s.restore.summary.run ?? '?'}\`, exit ${s.restore.exitCode}, ${formatMs(s.restore.ms)}`);
    for (const cause of failureCauses(s)) lines.push(`- **Why it failed**: ${cause}`);
    for (const c of s.checks) lines.push(`- [${c.ok ? 'x' : ' '}] ${c.check}${c.detail ? ` (${c.detail})` : ''}`);
    const steps = (s.restore?.summary.steps as { step: string; ms: number; status: string }[] | undefined) ?? [];
    if (steps.length) lines.push('', '| step | time | status |', '| --- | --- | --- |', ...steps.map((st) => `| ${st.step} | ${formatMs(st.ms)} | ${st.status} |`));
    lines.push('');
  }
  lines.push('## Migration rehearsal', '', '| plan | seed | forward | rollback | content hash after rollback | result |', '| --- | --- | --- | --- | --- | --- |');
  for (const r of report.rehearsals) lines.push(`| ${r.plan} | ${r.source} | exit ${r.forward.exitCode}, ${formatMs(r.forward.ms)}, ${r.forward.phases.length} phases | exit ${r.rollback.exitCode}, ${formatMs(r.rollback.ms)} | ${r.hashAfter === r.hashBefore ? 'equal' : 'DIFFERS'} | ${r.passed ? 'PASS' : 'FAIL'} |`);
  lines.push('');
  lines.push('## Backups', '', '| runbook | exit | time | ids |', '| --- | --- | --- | --- |');
  for (const b of report.backups) lines.push(`| ${b.runbook} ${b.args.join(' ')} | ${b.exitCode} | ${formatMs(b.ms)} | ${((b.summary.ids as string[] | undefined) ?? []).join(', ')} |`);
  if (report.skipped.length) lines.push('', `Skipped: ${report.skipped.join('; ')}`);
  return lines.join('\n') + '\n';
}

export function writeReports(dir: string, report: DrillReport): { markdown: string; json: string; html: string } {
  fs.mkdirSync(dir, { recursive: true });
  const files = { markdown: path.join(dir, 'report.md'), json: path.join(dir, 'report.json'), html: path.join(dir, 'report.html') };
  fs.writeFileSync(files.markdown, renderMarkdown(report));
  fs.writeFileSync(files.json, JSON.stringify(report, isoTimes, 2));
  fs.writeFileSync(files.html, renderHtml(report));
  return files;
}

/** report.json carries times as ISO strings, never epoch numbers. */
function isoTimes(key: string, value: unknown): unknown {
  return key === 'startedAt' && typeof value === 'number' ? new Date(value).toISOString() : value;
}
