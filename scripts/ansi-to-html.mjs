// Render a terminal capture (tmux capture-pane -e: text with SGR colour
// codes) as a standalone HTML page, so headless Chromium can screenshot it.
import fs from 'node:fs';

const COLOURS = ['#2e3436', '#ef2929', '#8ae234', '#fce94f', '#729fcf', '#ad7fa8', '#34e2e2', '#eeeeec'];
const escape = (s) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);

export function ansiToHtml(text) {
  let style = {};
  let out = '';
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
    if (!sgr) {
      const css = [style.fg && `color:${style.fg}`, style.bold && 'font-weight:bold', style.dim && 'opacity:.6'].filter(Boolean).join(';');
      out += css ? `<span style="${css}">${escape(part)}</span>` : escape(part);
      continue;
    }
    for (const code of (sgr[1] || '0').split(';').map(Number)) {
      if (code === 0) style = {};
      else if (code === 1) style.bold = true;
      else if (code === 2) style.dim = true;
      else if (code === 22) style.bold = style.dim = false;
      else if (code >= 30 && code <= 37) style.fg = COLOURS[code - 30];
      else if (code >= 90 && code <= 97) style.fg = COLOURS[code - 90];
      else if (code === 39) delete style.fg;
    }
  }
  return `<!doctype html><meta charset="utf-8"><body style="margin:0;background:#1e1e1e"><pre style="margin:0;padding:12px;color:#eeeeec;font:14px/1.35 'DejaVu Sans Mono',monospace">${out}</pre></body>`;
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node scripts/ansi-to-html.mjs CAPTURE.ansi OUT.html\n');
  process.exit(2);
}
fs.writeFileSync(output, ansiToHtml(fs.readFileSync(input, 'utf8')));
