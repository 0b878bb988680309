import fs from 'node:fs';
import path from 'node:path';
import { formatMs } from '../../engine/format';
import type { DrillReport, ScenarioResult } from './types';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (part: number | null | undefined, whole: number | undefined): string => (part == null || !whole ? '–' : `${((part / whole) * 100).toFixed(3)}%`);
const ms = (v: number | null | undefined): string => (v == null ? 'n/a' : formatMs(v));

export function renderMarkdown(report: DrillReport): string {
  const lines = [
    `# tickvault DR drill ${report.passed ? '✅ PASSED' : '❌ FAILED'}`,
    '',
    `Run \`${report.run}\` · ${report.startedAt} → ${report.finishedAt} · scale ${report.scale}`,
    '',
    report.timescaledb ? `Drilled on **TimescaleDB ${report.timescaledb.version}**: ${report.timescaledb.layout}` : 'Drilled **without TimescaleDB** (not installed and preloaded): tick_data was a plain table',
    '',
    '| scenario | disaster | RTO (target) | RPO (target) | result |',
    '| --- | --- | --- | --- | --- |',
    ...report.scenarios.map((s) => `| ${s.name} (${s.scenario}) | ${s.disaster} | ${ms(s.rtoMs)} (${ms(s.rtoTargetMs)}) | ${ms(s.rpoMs)} (${ms(s.rpoTargetMs)}) | ${s.passed ? 'PASS' : 'FAIL'} |`),
    '',
  ];
  for (const s of report.scenarios) {
    lines.push(`## ${s.name}: ${s.passed ? 'PASS' : 'FAIL'}`, '', `- Disaster: ${s.disaster}`, `- Recovery: ${s.recovery}`);
    if (s.restore) lines.push(`- Restore run \`${s.restore.summary.run ?? '?'}\`, exit ${s.restore.exitCode}, ${formatMs(s.restore.ms)}`);
    if (s.error) lines.push(`- Error: ${s.error}`);
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

/** One bar per restore step on a shared time axis, with the RTO budget used. */
function timeline(s: ScenarioResult): string {
  const steps = (s.restore?.summary.steps as { step: string; ms: number; status: string }[] | undefined) ?? [];
  const total = Math.max(1, steps.reduce((sum, st) => sum + st.ms, 0));
  let offset = 0;
  const bars = steps
    .map((st) => {
      const left = (offset / total) * 100;
      const width = Math.max(0.5, (st.ms / total) * 100);
      offset += st.ms;
      return `<div class="row"><span class="label">${esc(st.step)}</span><span class="track"><span class="bar ${st.status}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></span><span class="t">${formatMs(st.ms)}</span></div>`;
    })
    .join('\n');
  return `<section class="${s.passed ? 'pass' : 'fail'}"><h2>${esc(s.name)} <small>${s.scenario}</small> — ${s.passed ? 'PASS' : 'FAIL'}</h2>
<p>${esc(s.disaster)} → ${esc(s.recovery)}</p>
<p>RTO <b>${ms(s.rtoMs)}</b> of ${ms(s.rtoTargetMs)} target (${pct(s.rtoMs, s.rtoTargetMs)} of the budget) · RPO <b>${ms(s.rpoMs)}</b> of ${ms(s.rpoTargetMs)} (${pct(s.rpoMs, s.rpoTargetMs)})</p>
<div class="budget"><span style="width:${Math.min(100, ((s.rtoMs ?? 0) / (s.rtoTargetMs ?? 1)) * 100).toFixed(3)}%"></span></div>
${bars}
<ul>${s.checks.map((c) => `<li class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '✔' : '✘'} ${esc(c.check)}${c.detail ? ` <small>(${esc(c.detail)})</small>` : ''}</li>`).join('')}</ul></section>`;
}

export function renderHtml(report: DrillReport): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tickvault drill ${esc(report.run)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:980px;color:#222}h1 .v{color:${report.passed ? '#1a7f37' : '#cf222e'}}
section{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}section.fail{border-color:#cf222e}
.row{display:flex;align-items:center;gap:.5rem;margin:2px 0}.label{width:330px;font-size:12px}.track{position:relative;flex:1;height:14px;background:#f3f3f3}
.bar{position:absolute;top:0;height:14px;background:#0969da}.bar.failed{background:#cf222e}.t{width:70px;text-align:right;font-size:12px}
.budget{height:6px;background:#eee;margin:.5rem 0}.budget span{display:block;height:6px;background:#1a7f37;min-width:2px}
li.bad{color:#cf222e}small{color:#666}</style></head><body>
<h1>tickvault DR drill <span class="v">${report.passed ? 'PASSED' : 'FAILED'}</span></h1>
<p>${report.timescaledb ? `Drilled on <b>TimescaleDB ${esc(report.timescaledb.version)}</b>: ${esc(report.timescaledb.layout)}` : 'Drilled <b>without TimescaleDB</b>: tick_data was a plain table'}</p>
<p>Run ${esc(report.run)} · ${esc(report.startedAt)} → ${esc(report.finishedAt)} · scale ${report.scale}. Each timeline shows the restore's steps on its own time axis; the thin bar shows how much of the RTO target the restore used.</p>
${report.scenarios.map(timeline).join('\n')}
<section><h2>Migration rehearsal</h2><ul>${report.rehearsals.map((r) => `<li class="${r.passed ? 'ok' : 'bad'}">${r.passed ? '✔' : '✘'} ${esc(r.plan)} (${esc(r.source)}): forward ${formatMs(r.forward.ms)}, rollback ${formatMs(r.rollback.ms)}, content hash ${r.hashAfter === r.hashBefore ? 'equal' : 'DIFFERS'}</li>`).join('')}</ul></section>
${report.skipped.length ? `<p>Skipped: ${esc(report.skipped.join('; '))}</p>` : ''}
</body></html>\n`;
}

export function writeReports(dir: string, report: DrillReport): { markdown: string; json: string; html: string } {
  fs.mkdirSync(dir, { recursive: true });
  const files = { markdown: path.join(dir, 'report.md'), json: path.join(dir, 'report.json'), html: path.join(dir, 'report.html') };
  fs.writeFileSync(files.markdown, renderMarkdown(report));
  fs.writeFileSync(files.json, JSON.stringify(report, null, 2));
  fs.writeFileSync(files.html, renderHtml(report));
  return files;
}
