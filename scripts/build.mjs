// Build the `tickvault` command to JavaScript (dist/), so it starts without
// compiling TypeScript. One bundle with a chunk per runbook, loaded lazily;
// npm packages stay external and load from node_modules.
import { build } from 'esbuild';
import fs from 'node:fs';

fs.rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { tickvault: 'runbooks/tickvault.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
