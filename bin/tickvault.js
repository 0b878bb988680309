#!/bin/sh
':' //; exec node --max-semi-space-size=4 "$0" "$@"
// Line 2 is for sh (Node reads it as a string and a comment): it starts Node with
// --max-semi-space-size=4, portably (`env -S` is missing from BusyBox, so Alpine, and
// from OpenBSD). V8's young generation otherwise grows to 32 MiB over a long copy, and the
// freed-but-uncollected COPY buffers with it (peak RSS 105 → 135 MiB from 1 M to 10 M rows;
// 87 → 100 MiB with the cap, at the same speed). `node bin/tickvault.js` skips it.
// The `tickvault` command: the built bundle when present (fast start), else
// the TypeScript sources through tsx (run `npm run build` to build).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// pg probes for Cloudflare Workers with `new Response()` when `navigator` is missing, and that
// loads Node's fetch (undici): about 50 ms of every start on Node 20. Node 21+ defines this itself.
globalThis.navigator ??= { userAgent: `Node.js/${process.versions.node.split('.')[0]}` };

const root = path.resolve(import.meta.dirname, '..');
const built = path.join(root, 'dist', 'tickvault.js');
const sources = path.join(root, 'runbooks');

/** A bundle older than any source would run yesterday's code: never trust it (a few ms of stat calls). */
function bundleIsCurrent() {
  if (!fs.existsSync(sources)) return true;
  const builtAt = fs.statSync(built).mtimeMs;
  return fs.readdirSync(sources, { recursive: true }).every((f) => !String(f).endsWith('.ts') || fs.statSync(path.join(sources, String(f))).mtimeMs <= builtAt);
}

const useBundle = fs.existsSync(built) && bundleIsCurrent();
if (fs.existsSync(built) && !useBundle) process.stderr.write('tickvault: dist/ is older than runbooks/, so the sources run instead (slower start); "npm run build" rebuilds it\n');
if (useBundle) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(root, 'runbooks', 'tickvault.ts')).href);
}
