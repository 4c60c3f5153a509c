import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accessIsWrite, accessPage, spanFirstLine, spanLineCount } from '../../../plugin/sim/workloads/workload.js';
import { TRACE_PARAMS, TraceReplayWorkload } from '../../../plugin/sim/workloads/trace-replay.js';
import { parseTrace } from '../../../plugin/sim/trace/reader.js';
import { createWorkload } from '../../../plugin/sim/workloads/index.js';
import { Params } from '../../../plugin/sim/workloads/params.js';

const TEXT = [
  '# trace tiny page_size=4096 epoch_accesses=6 pages=8 cpu_ns_per_op=12.5',
  'epoch 0',
  '0 3 1',
  '5 0 2',
  'epoch 1',
  '7 2 0',
  '1 1 1',
  'epoch 2',
  'epoch 3',
  '3 0 4',
  '',
].join('\n');

/** Reads and writes per page in `accesses`. */
function tally(accesses: Uint32Array): Map<number, [number, number]> {
  const m = new Map<number, [number, number]>();
  for (const a of accesses) {
    const e = m.get(accessPage(a)) ?? [0, 0];
    e[accessIsWrite(a) ? 1 : 0]++;
    m.set(accessPage(a), e);
  }
  return m;
}

describe('sim/workloads/trace-replay: replay as a workload', () => {
  let dir = '';
  let file = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hmmv-replay-'));
    file = join(dir, 'tiny.trace');
    writeFileSync(file, TEXT);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("plays each epoch's exact reads and writes, epoch by epoch, and starts over (pages renumbered densely)", () => {
    const w = createWorkload({ kind: `trace:${file}`, pageCount: 0, seed: 1 }) as TraceReplayWorkload;
    assert.equal(w.name, 'trace:tiny');
    // Pages 0, 1, 3, 5, 7 of 8 are touched: renumbered 0..4 in address order.
    assert.equal(w.pageCount, 5);
    assert.equal(w.renumberedFrom, 8);
    assert.equal(w.cpuNsPerOp, 12.5);
    assert.equal(w.accessesPerOp, 1);
    const take = (n: number) => {
      const out = new Uint32Array(n);
      w.nextOps(n, out, new Uint16Array(n));
      return out;
    };
    for (let cycle = 0; cycle < 3; cycle++) {
      assert.deepEqual(tally(take(6)), new Map([[0, [3, 1]], [3, [0, 2]]]));
      assert.deepEqual(tally(take(4)), new Map([[4, [2, 0]], [1, [1, 1]]]));
      assert.deepEqual(tally(take(4)), new Map([[2, [0, 4]]]), 'the empty epoch 2 is skipped');
    }
  });

  it('depends only on the seed and the position; the order inside an epoch changes with the seed', () => {
    const trace = parseTrace(TEXT, 'tiny');
    const run = (seed: number, batches: number[]) => {
      const w = new TraceReplayWorkload(trace, { kind: 'trace', pageCount: 0, seed }, paramsFor());
      const parts: number[] = [];
      for (const n of batches) {
        const out = new Uint32Array(n);
        w.nextOps(n, out, new Uint16Array(n));
        parts.push(...out);
      }
      return parts;
    };
    assert.deepEqual(run(4, [100]), run(4, [1, 13, 6, 80]));
    const orders = new Set([1, 2, 3, 4, 5, 6].map((s) => run(s, [6]).join(',')));
    assert.ok(orders.size > 1, 'seeds shuffle the epoch differently');
  });

  it('takes the file from params, overrides costs, and checks pageCount', () => {
    const w = createWorkload({ kind: 'trace', pageCount: 100, seed: 1, params: { file, cpuNsPerOp: 3, accessesPerOp: 2 } });
    assert.equal(w.pageCount, 100);
    assert.equal(w.cpuNsPerOp, 3);
    assert.equal(w.accessesPerOp, 2);
    assert.throws(() => createWorkload({ kind: `trace:${file}`, pageCount: 4, seed: 1 }), /pageCount 4 is smaller than the trace's footprint of 5 pages/);
    assert.throws(() => createWorkload({ kind: 'trace:', pageCount: 0, seed: 1 }), /name the trace file as 'trace:<file>'/);
    assert.throws(() => createWorkload({ kind: `trace:${join(dir, 'nope')}`, pageCount: 0, seed: 1 }), /nope: cannot read trace/);
  });

  it('replays a sparse trace (pages 0-199 and 0x1ffe000) on 201 pages, in address order', () => {
    const sparse = join(dir, 'sparse.trace');
    const lines = ['# trace sparse page_size=4096 epoch_accesses=402', 'epoch 0'];
    for (let p = 0; p < 200; p++) lines.push(`${p.toString(16)} 2 0`);
    lines.push('1ffe000 1 1');
    writeFileSync(sparse, lines.join('\n') + '\n');
    const w = createWorkload({ kind: `trace:${sparse}`, pageCount: 0, seed: 1 }) as TraceReplayWorkload;
    assert.equal(w.pageCount, 201);
    assert.equal(w.renumberedFrom, 0x1ffe001);
    const out = new Uint32Array(402);
    w.nextOps(402, out, new Uint16Array(402));
    const t = tally(out);
    assert.deepEqual(t.get(200), [1, 1], 'the far page is the last, right after page 199');
    assert.deepEqual(t.get(0), [2, 0]);
    assert.equal(t.size, 201);
  });

  it('spreads a page\'s accesses over its recorded distinct lines; without counts each access is a new line', () => {
    const withLines = join(dir, 'lines.trace');
    writeFileSync(withLines, '# trace l page_size=4096 epoch_accesses=90 line_size=64\nepoch 0\n0 40 0 3\n1 50 0 64\n');
    const without = join(dir, 'nolines.trace');
    writeFileSync(without, '# trace n page_size=4096 epoch_accesses=90\nepoch 0\n0 40 0\n1 50 0\n2 100 0\n');
    const linesOf = (path: string, n: number) => {
      const w = createWorkload({ kind: `trace:${path}`, pageCount: 0, seed: 3 });
      const out = new Uint32Array(n);
      const ls = new Uint16Array(n);
      w.nextOps(n, out, ls);
      const per = new Map<number, Set<number>>();
      for (let i = 0; i < n; i++) {
        const s = per.get(accessPage(out[i]!)) ?? new Set<number>();
        assert.equal(spanLineCount(ls[i]!), 1, 'one line per trace access');
        s.add(spanFirstLine(ls[i]!));
        per.set(accessPage(out[i]!), s);
      }
      return [...per.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s.size);
    };
    assert.deepEqual(linesOf(withLines, 90), [3, 50], 'page 0: 3 lines as recorded; page 1: 64 recorded but only 50 accesses');
    assert.deepEqual(linesOf(without, 190), [40, 50, 64], 'no counts: a new line per access, at most 64');
  });

  it('refuses a trace without accesses', () => {
    const empty = join(dir, 'empty.trace');
    writeFileSync(empty, '# trace e page_size=4096 epoch_accesses=1\nepoch 0\n0 0 0\n');
    assert.throws(() => createWorkload({ kind: `trace:${empty}`, pageCount: 0, seed: 1 }), /the trace has no accesses to replay/);
  });
});

function paramsFor(): Params {
  return new Params('trace', TRACE_PARAMS, undefined);
}

describe('sim/workloads/trace-replay: the traces of real programs in traces/', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..', 'traces');
  for (const name of ['sort', 'gzip', 'kvstore']) {
    it(`${name}.trace.gz loads, is small, and replays within its footprint`, () => {
      const file = join(root, `${name}.trace.gz`);
      assert.ok(statSync(file).size < 1 << 20, 'under 1 MiB gzipped');
      const w = createWorkload({ kind: `trace:${file}`, pageCount: 0, seed: 1 });
      assert.equal(w.name, `trace:${name}`);
      assert.ok(w.pageCount > 100 && w.cpuNsPerOp > 0);
      const out = new Uint32Array(100_000);
      w.nextOps(out.length, out, new Uint16Array(out.length));
      const touched = new Set<number>();
      for (const a of out) {
        assert.ok(accessPage(a) < w.pageCount);
        touched.add(accessPage(a));
      }
      assert.ok(touched.size > 50, `${touched.size} pages touched`);
    });
  }
});
