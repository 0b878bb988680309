#!/usr/bin/env node
// The `tickvault` command: the built bundle when present (fast start), else
// the TypeScript sources through tsx (run `npm run build` to build).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '..');
const built = path.join(root, 'dist', 'tickvault.js');
if (fs.existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(root, 'runbooks', 'tickvault.ts')).href);
}
