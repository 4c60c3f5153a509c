import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../../plugin/cli.js');
const hmmv = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('sim: hmmv trace info and hmmv workloads', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hmmv-cmd-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trace info prints the header and totals of a good trace', () => {
    const file = join(dir, 'ok.trace');
    writeFileSync(file, '# trace ok page_size=4096 epoch_accesses=4\nepoch 0\n0 3 1\nepoch 1\n2 1 1\n');
    const r = hmmv('trace', 'info', file);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as { header: { name: string }; pages: number; epochs: number; accesses: number; writeShare: number };
    assert.deepEqual([info.header.name, info.pages, info.epochs, info.accesses, info.writeShare], ['ok', 3, 2, 6, 2 / 6]);
  });

  it('trace info exits 1 naming the file and line of a bad trace', () => {
    const file = join(dir, 'bad.trace');
    writeFileSync(file, '# trace bad page_size=4096 epoch_accesses=4\nepoch 0\n0 3\n');
    const r = hmmv('trace', 'info', file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /hmmv trace info: .*bad\.trace:3: expected '<page_hex> <reads> <writes>'/);
  });

  it('workloads lists every kind with its parameters', () => {
    const r = hmmv('workloads', '--json');
    assert.equal(r.status, 0, r.stderr);
    const kinds = (JSON.parse(r.stdout) as { kind: string; params: { name: string }[] }[]).map((k) => k.kind);
    assert.deepEqual(kinds, ['kv-zipf', 'gups', 'scan', 'phase', 'resize', 'graph', 'trace:<file>']);
    assert.match(hmmv('workloads').stdout, /theta \(default derived\)/);
  });
});
