import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/runbook';

/** The Pulumi program's sources, parsed (the anchors' style is checked on the syntax tree, not by grep). */
const sources = fs
  .readdirSync(path.join(root, 'infra'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.startsWith('policy'))
  .map((f) => ts.createSourceFile(f, fs.readFileSync(path.join(root, 'infra', f), 'utf8'), ts.ScriptTarget.Latest, true));

function walk(node: ts.Node, visit: (n: ts.Node) => void) {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

describe('component style (pulumi-eks / awsx anchors)', () => {
  it('no non-null assertions (`x!`): args are discriminated unions that say what is there', () => {
    const found: string[] = [];
    for (const sf of sources) walk(sf, (n) => {
      if (ts.isNonNullExpression(n)) found.push(`${sf.fileName}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1} ${n.getText()}`);
    });
    expect(found).toEqual([]);
  });

  it('every ComponentResource registers every public output it declares', () => {
    const components: string[] = [];
    for (const sf of sources) walk(sf, (n) => {
      if (!ts.isClassDeclaration(n) || !n.heritageClauses?.some((h) => h.getText().includes('ComponentResource'))) return;
      const name = n.name?.text ?? '?';
      components.push(name);
      const declared = n.members.filter((m): m is ts.PropertyDeclaration => ts.isPropertyDeclaration(m) && !m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)).map((m) => m.name.getText());
      const registered: string[] = [];
      walk(n, (c) => {
        if (ts.isCallExpression(c) && c.expression.getText() === 'this.registerOutputs') {
          const arg = c.arguments[0];
          if (arg && ts.isObjectLiteralExpression(arg)) for (const p of arg.properties) if (p.name) registered.push(p.name.getText());
        }
      });
      expect(registered.length, `${name} calls registerOutputs with its outputs`).toBeGreaterThan(0);
      for (const d of declared) expect(registered, `${name}.${d}`).toContain(d);
    });
    expect(components.sort()).toEqual(['BackupAlarms', 'BackupBucket', 'BackupSchedule', 'Cache', 'DbObjects', 'EnvVault', 'StoredSecret', 'TimescaleDb', 'VectorStore']);
  });

  it('TimescaleDb args are a discriminated union on `mode`', () => {
    const sf = sources.find((s) => s.fileName.endsWith('timescale-db.ts'));
    expect(sf?.getText()).toMatch(/export type TimescaleDbArgs = ExternalTimescaleDbArgs \| Ec2TimescaleDbArgs;/);
    expect(sf?.getText()).toMatch(/readonly mode: 'external';[\s\S]*readonly mode: 'ec2';/);
  });
});
