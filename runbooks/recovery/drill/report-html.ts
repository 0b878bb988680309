import { formatMs } from '../../engine/format';
import type { DrillReport, ScenarioResult } from './types';
import { band, failureCauses, margin } from './verdicts';

const esc = (s: unknown): string => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const ms = (v: number | null | undefined): string => (v == null ? 'n/a' : formatMs(v));
type Steps = { step: string; ms: number; status: string }[];
const stepsOf = (s: ScenarioResult): Steps => (s.restore?.summary.steps as Steps | undefined) ?? [];

function summaryTable(report: DrillReport): string {
  const rows = report.scenarios.map((s) => {
    const rto = band(s.rtoMs, s.rtoTargetMs);
    const rpo = band(s.rpoMs, s.rpoTargetMs);
    return `<tr class="${s.passed ? 'pass' : 'fail'}"><td>${esc(s.name)}<br><small>${esc(s.scenario)}</small></td>
<td class="${rto}">${ms(s.rtoMs)} <small>/ ${ms(s.rtoTargetMs)}</small></td><td class="${rto}">${margin(s.rtoMs, s.rtoTargetMs)}</td>
<td class="${rpo}">${ms(s.rpoMs)} <small>/ ${ms(s.rpoTargetMs)}</small></td><td class="${rpo}">${margin(s.rpoMs, s.rpoTargetMs)}</td>
<td class="verdict">${s.passed ? 'PASS' : 'FAIL'}</td></tr>`;
  });
  return `<table class="summary"><thead><tr><th>scenario</th><th>RTO / target</th><th>RTO margin</th><th>RPO / target</th><th>RPO margin</th><th>result</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

/** Restore steps on one time axis shared by every scenario, then RPO against its own target. */
function timeline(s: ScenarioResult, axisMs: number): string {
  let offset = 0;
  const bars = stepsOf(s).map((st) => {
    const left = (offset / axisMs) * 100;
    const width = Math.max(0.3, (st.ms / axisMs) * 100);
    offset += st.ms;
    return `<div class="row"><span class="label">${esc(st.step)}</span><span class="track"><span class="bar ${esc(st.status)}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></span><span class="t">${formatMs(st.ms)}</span></div>`;
  });
  const rpoWidth = s.rpoMs != null && s.rpoTargetMs ? Math.min(100, (s.rpoMs / s.rpoTargetMs) * 100) : 0;
  const causes = failureCauses(s);
  return `<section class="${s.passed ? 'pass' : 'fail'}"><h2>${esc(s.name)} <small>${esc(s.scenario)}</small> — ${s.passed ? 'PASS' : 'FAIL'}</h2>
<p>${esc(s.disaster)} → ${esc(s.recovery)}${s.restore ? ` <small>(restore run ${esc(s.restore.summary.run ?? '?')}, exit ${s.restore.exitCode})</small>` : ''}</p>
${causes.length ? `<div class="causes"><b>Why it failed</b><ul>${causes.map((c) => `<li>${esc(c)}</li>`).join('')}</ul></div>` : ''}
${bars.join('\n')}
<div class="row rpo"><span class="label">RPO: data-loss window vs target</span><span class="track"><span class="bar ${band(s.rpoMs, s.rpoTargetMs)}" style="left:0;width:${rpoWidth.toFixed(2)}%"></span></span><span class="t">${ms(s.rpoMs)}</span></div>
<ul class="checks">${s.checks.map((c) => `<li class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '✔' : '✘'} ${esc(c.check)}${c.detail ? ` <small>(${esc(c.detail)})</small>` : ''}</li>`).join('')}</ul></section>`;
}

function backupsTable(report: DrillReport): string {
  const rows = report.backups.map((b) => `<tr class="${b.exitCode === 0 ? 'pass' : 'fail'}"><td>${esc(`${b.runbook} ${b.args.join(' ')}`)}</td><td>${b.exitCode}</td><td>${formatMs(b.ms)}</td><td>${esc(((b.summary.ids as string[] | undefined) ?? []).join(', '))}</td></tr>`);
  return `<section><h2>Backups taken</h2><table><thead><tr><th>command</th><th>exit</th><th>time</th><th>backup ids</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

export function renderHtml(report: DrillReport): string {
  const axisMs = Math.max(1, ...report.scenarios.map((s) => stepsOf(s).reduce((sum, st) => sum + st.ms, 0)));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>tickvault drill ${esc(report.run)}: ${report.passed ? 'PASSED' : 'FAILED'}</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5rem 2rem;color:#222}h1 .v{color:${report.passed ? '#1a7f37' : '#cf222e'}}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top}
td.good{background:#dafbe1}td.tight{background:#fff8c5}td.missed{background:#ffebe9}td.unknown{background:#f3f3f3}
tr.fail td.verdict{color:#fff;background:#cf222e;font-weight:bold}tr.pass td.verdict{color:#1a7f37;font-weight:bold}
section{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}section.fail{border-color:#cf222e}
.causes{background:#ffebe9;border-radius:4px;padding:.5rem .8rem;margin:.5rem 0}
.row{display:flex;align-items:center;gap:.5rem;margin:2px 0}.label{flex:0 0 30%;font-size:12px}.track{position:relative;flex:1;height:14px;background:#f3f3f3}
.bar{position:absolute;top:0;height:14px;background:#0969da}.bar.failed,.bar.missed{background:#cf222e}.bar.good{background:#1a7f37}.bar.tight{background:#bf8700}
.row.rpo{margin-top:.4rem}.t{flex:0 0 80px;text-align:right;font-size:12px}li.bad{color:#cf222e}small{color:#666}</style></head><body>
<h1>tickvault DR drill <span class="v">${report.passed ? 'PASSED' : 'FAILED'}</span></h1>
<p>Run ${esc(report.run)} · ${esc(report.startedAt)} → ${esc(report.finishedAt)} · scale ${report.scale}${report.timescaledb ? ` · TimescaleDB ${esc(report.timescaledb)}` : ''}.
Margins are coloured by how much of the target was used: green under half, amber under all of it, red over.</p>
${summaryTable(report)}
<p><small>Restore timelines share one time axis (${formatMs(axisMs)} wide); the RPO bar is drawn against its own target.</small></p>
${report.scenarios.map((s) => timeline(s, axisMs)).join('\n')}
<section><h2>Migration rehearsal</h2><ul>${report.rehearsals.map((r) => `<li class="${r.passed ? 'ok' : 'bad'}">${r.passed ? '✔' : '✘'} ${esc(r.plan)} (${esc(r.source)}): forward ${formatMs(r.forward.ms)}, rollback ${formatMs(r.rollback.ms)}, content hash ${r.hashAfter === r.hashBefore ? 'equal' : 'DIFFERS'}${r.error ? ` — ${esc(r.error)}` : ''}</li>`).join('')}</ul></section>
${backupsTable(report)}
${report.skipped.length ? `<p>Skipped: ${esc(report.skipped.join('; '))}</p>` : ''}
</body></html>\n`;
}
