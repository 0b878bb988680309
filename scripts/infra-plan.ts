/**
 * Render what the Pulumi program declares for a stack, offline (Pulumi's
 * runtime mocks; no engine, no cloud).
 *   npm run infra:plan -- --stack dev|prod [--json]
 */
import { parseArgs } from 'node:util';
import { declareProgram, stackConfig } from '../infra/mocks';
import { projectRoot } from '../runbooks/engine/paths';

const { values } = parseArgs({ options: { stack: { type: 'string' }, json: { type: 'boolean', default: false } } });
const stack = values.stack;
if (stack !== 'dev' && stack !== 'prod') {
  process.stderr.write('usage: npm run infra:plan -- --stack dev|prod [--json]\n');
  process.exit(2);
}
const { values: config, secretKeys } = stackConfig(stack, projectRoot);
// Secrets are set with `pulumi config set --secret` and never committed: plan with placeholders.
for (const key of ['tickvault:dbPassword', 'tickvault:redisAuthToken']) {
  if (!(key in config)) {
    config[key] = `plan-placeholder-${key.split(':')[1]}`;
    secretKeys.push(key);
  }
}
let declared;
try {
  declared = await declareProgram(stack, config, secretKeys);
} catch (error) {
  process.stderr.write(`infra:plan: ${(error as Error).message}\n`);
  process.exit(2);
}
const rows = declared.resources.map(({ type, name, parent, inputs }) => ({ type, name, parent, inputs }));
if (values.json) {
  process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
} else {
  const out = process.stderr;
  out.write(`Stack "${stack}": ${rows.length} resources declared by the program.\n`);
  out.write('This is a declaration of what the program would manage, not a diff against live state (run `pulumi preview --diff` for that).\n\n');
  const children = new Map<string | null, typeof rows>();
  for (const r of rows) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  const print = (parent: string | null, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      out.write(`${'  '.repeat(depth)}${r.type}  ${r.name}\n`);
      print(r.name, depth + 1);
    }
  };
  print(null, 0);
}
