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
  // Small pure-JS packages on every command's path are bundled: loading zod from node_modules
  // compiled its ~100 files (every locale) on each start. The rest load lazily from node_modules.
  external: ['@aws-sdk/*', '@pulumi/*', '@qdrant/*', 'ioredis', 's3rver', 'tsx', 'tsx/*', 'yaml', 'zx', 'pg-native'],
  // Bundled CommonJS (pg) requires Node's own modules; ESM output needs a real require for that.
  banner: { js: "import { createRequire as __tvCreateRequire } from 'node:module'; const require = __tvCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
});
