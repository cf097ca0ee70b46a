import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GLOBAL_MODULE_METADATA, MODULE_METADATA } from '@nestjs/common/constants';
import { AppModule } from './app.module';
import { BalancerModule } from './balancer/balancer.module';

type ModuleRef = (abstract new (...args: never[]) => unknown) | { module: { name: string } };

const nameOf = (m: ModuleRef) => ('module' in m ? m.module.name : m.name);

/** every module reachable from the roots (the node's AppModule, the balancer role's BalancerModule) -> the names it imports, in declaration order */
function graph(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (m: ModuleRef) => {
    const name = nameOf(m);
    if (out.has(name) || 'module' in m) return;
    const imports: ModuleRef[] = Reflect.getMetadata(MODULE_METADATA.IMPORTS, m) ?? [];
    out.set(name, imports.map(nameOf));
    imports.forEach(walk);
  };
  walk(AppModule);
  walk(BalancerModule);
  return out;
}

/** the table between the module-graph markers of docs/architecture.md */
function documented(): Map<string, string[]> {
  const doc = fs.readFileSync(path.resolve(__dirname, '../../docs/architecture.md'), 'utf8');
  const table = doc.split('<!-- module-graph:start -->')[1].split('<!-- module-graph:end -->')[0];
  const rows = table
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| module') && !l.startsWith('| ---'))
    .map((l) => l.split('|').map((c) => c.trim()));
  return new Map(rows.map(([, name, imports]) => [name, imports ? imports.split(',').map((s) => s.trim()) : []]));
}

describe('module graph', () => {
  it('is the one docs/architecture.md shows, edge for edge', () => {
    const built = graph();
    const doc = documented();
    assert.deepEqual([...doc.keys()].sort(), [...built.keys()].sort(), 'the same modules');
    for (const [name, imports] of built) assert.deepEqual(doc.get(name), imports, `imports of ${name}`);
  });

  it('has no global module: a part reaches only what it imports', () => {
    const globals: string[] = [];
    const walk = (m: ModuleRef, seen: Set<string>) => {
      if (seen.has(nameOf(m)) || 'module' in m) return;
      seen.add(nameOf(m));
      if (Reflect.getMetadata(GLOBAL_MODULE_METADATA, m)) globals.push(nameOf(m));
      for (const i of (Reflect.getMetadata(MODULE_METADATA.IMPORTS, m) ?? []) as ModuleRef[]) walk(i, seen);
    };
    walk(AppModule, new Set());
    walk(BalancerModule, new Set());
    assert.deepEqual(globals, []);
  });
});
