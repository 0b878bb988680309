// Loaded with `node --import`: appends "zx" to $TRACE_ZX_FILE when anything resolves the zx package.
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(`
import fs from 'node:fs';
export async function resolve(specifier, context, next) {
  if (specifier === 'zx' || specifier.startsWith('zx/')) fs.appendFileSync(${JSON.stringify(process.env.TRACE_ZX_FILE)}, specifier + '\\n');
  return next(specifier, context);
}`));
