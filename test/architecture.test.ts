/**
 * The folder layout is the architecture: dependencies point down. This reads
 * every import in plugin/ and checks the rules docs/ARCHITECTURE.md states, so
 * a new import that bends them fails here, naming the file.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../plugin/pool/wire.js';

const ROOT = packageRoot();
const PLUGIN = path.join(ROOT, 'plugin');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** Folder under plugin/ of a file ('cli' for plugin/cli.ts). */
const areaOf = (file: string): string => {
  const rel = path.relative(PLUGIN, file).split(path.sep);
  return rel.length === 1 ? 'cli' : rel[0]!;
};

/** area -> areas it imports, with one file per edge for the message. */
function importGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sources(PLUGIN)) {
    const from = areaOf(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
      const spec = m[1] ?? m[2]!;
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(PLUGIN + path.sep)) continue;
      const to = areaOf(target.replace(/\.js$/, '.ts'));
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, path.relative(ROOT, file));
      graph.set(from, edges);
    }
  }
  return graph;
}

describe('architecture: imports between plugin/ folders', () => {
  const graph = importGraph();
  const importsOf = (area: string): string[] => [...(graph.get(area)?.keys() ?? [])].sort();

  it('has no cycle between folders', () => {
    const state = new Map<string, 'open' | 'done'>();
    const visit = (a: string, trail: string[]): void => {
      if (state.get(a) === 'done') return;
      if (state.get(a) === 'open') {
        const cycle = [...trail.slice(trail.indexOf(a)), a];
        const files = cycle.slice(0, -1).map((x, i) => `${x} -> ${cycle[i + 1]} (${graph.get(x)!.get(cycle[i + 1]!)})`);
        assert.fail(`import cycle: ${files.join(', ')}`);
      }
      state.set(a, 'open');
      for (const b of importsOf(a)) visit(b, [...trail, a]);
      state.set(a, 'done');
    };
    for (const a of graph.keys()) visit(a, []);
  });

  it('the engine knows only the memory-host interface and util', () => {
    assert.deepEqual(importsOf('engine').filter((a) => a !== 'host' && a !== 'util'), []);
  });

  it('libvirt and the manager share runtime files and the config type through plugin/runtime, not each other', () => {
    assert.ok(!importsOf('libvirt').includes('manager'), `plugin/libvirt imports plugin/manager (${graph.get('libvirt')?.get('manager')})`);
    assert.deepEqual(importsOf('runtime').filter((a) => a !== 'util'), [], 'plugin/runtime imports nothing above it');
  });

  it('the pool does not depend on the simulator, the manager or libvirt', () => {
    assert.deepEqual(importsOf('pool').filter((a) => ['sim', 'manager', 'libvirt', 'session'].includes(a)), []);
  });
});
