#!/usr/bin/env bash
# Regenerate the README's screenshots under docs/:
#   docs/terminal-drill-dry-run.png  `tickvault drill --dry-run` in a real tmux terminal
#   docs/drill-report.png            a drill's HTML report in headless Chromium
# Usage: scripts/screenshots.sh [path/to/report.html]
#   (default: the newest reports/drill-*/report.html; run `tickvault drill` first)
# Needs tmux and chromium (optional extras, not installed by scripts/bootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in tmux chromium node; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is not installed (optional extra: sudo apt-get install -y tmux chromium)" >&2; exit 2; }
done
report="${1:-$(ls -t reports/drill-*/report.html 2>/dev/null | head -n1 || true)}"
[ -n "$report" ] && [ -f "$report" ] || { echo "screenshots: no drill report; run \`tickvault drill\` or pass a report.html" >&2; exit 2; }

work="$(mktemp -d)"
session="tv-shot-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
node scripts/build.mjs

# A real terminal (tmux gives the CLI a TTY, so it colours its output); the
# command writes a marker when done, and tmux wait-for synchronises on it.
tmux new-session -d -s "$session" -x 120 -y 46 "bash --norc --noprofile"
tmux send-keys -t "$session" "clear; PS1='$ '; node bin/tickvault.js drill --dry-run; tmux wait-for -S $session-done" Enter
tmux wait-for "$session-done"
tmux capture-pane -e -p -t "$session" > "$work/terminal.ansi"
node scripts/ansi-to-html.mjs "$work/terminal.ansi" "$work/terminal.html"

shoot() { # html png width height
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3,$4" --screenshot="$2" "file://$(realpath "$1")" 2>/dev/null
  [ -s "$2" ] || { echo "screenshots: chromium wrote no $2" >&2; exit 1; }
}
shoot "$work/terminal.html" docs/terminal-drill-dry-run.png 1040 900
shoot "$report" docs/drill-report.png 1400 1100
echo "wrote docs/terminal-drill-dry-run.png and docs/drill-report.png (report: $report)"
