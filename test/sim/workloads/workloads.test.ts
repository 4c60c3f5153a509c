import assert from 'node:assert/strict';
import { LINE_DESCRIPTORS, accessIsWrite, accessPage, isWriteBackOnly, spanFirstLine, spanLineCount } from '../../../plugin/sim/workloads/workload.js';
import { GraphWorkload } from '../../../plugin/sim/workloads/graph.js';
import { GupsWorkload } from '../../../plugin/sim/workloads/gups.js';
import { WORKLOAD_KINDS, createWorkload, describeWorkloadKinds } from '../../../plugin/sim/workloads/index.js';
import { KvZipfWorkload } from '../../../plugin/sim/workloads/kv-zipf.js';
import { PhaseWorkload } from '../../../plugin/sim/workloads/phase.js';
import { ScanWorkload } from '../../../plugin/sim/workloads/scan.js';
import { countPages, take, takeWithLines } from './helpers.js';

const SYNTHETIC = ['kv-zipf', 'gups', 'scan', 'phase', 'resize', 'graph'];

describe('sim/workloads: every synthetic workload', () => {
  for (const kind of SYNTHETIC) {
    describe(kind, () => {
      it('same seed gives the same stream, however the operations are batched', () => {
        const a = takeWithLines(createWorkload({ kind, pageCount: 20_000, seed: 11 }), 30_000);
        const w = createWorkload({ kind, pageCount: 20_000, seed: 11 });
        const b = new Uint32Array(a.accesses.length);
        const bLines = new Uint16Array(a.accesses.length);
        let op = 0;
        for (const n of [1, 7, 1000, 12_345, 16_647]) {
          w.nextOps(n, b.subarray(op * w.accessesPerOp, (op + n) * w.accessesPerOp), bLines.subarray(op * w.accessesPerOp, (op + n) * w.accessesPerOp));
          op += n;
        }
        assert.equal(op, 30_000);
        assert.deepEqual(a.accesses, b);
        assert.deepEqual(a.lines, bLines);
      });

      it('a different seed gives a different stream', () => {
        const a = take(createWorkload({ kind, pageCount: 20_000, seed: 11 }), 5000);
        const b = take(createWorkload({ kind, pageCount: 20_000, seed: 12 }), 5000);
        let same = 0;
        for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
        assert.ok(same < a.length * 0.5, `${same} of ${a.length} accesses equal`);
      });

      it('touches only its own pages and has sane cost defaults', () => {
        const w = createWorkload({ kind, pageCount: 5000, seed: 1 });
        assert.equal(w.pageCount, 5000);
        assert.ok(w.cpuNsPerOp > 0 && w.cpuNsPerOp < 10_000, `cpuNsPerOp ${w.cpuNsPerOp}`);
        assert.ok(Number.isInteger(w.accessesPerOp) && w.accessesPerOp >= 1);
        const { accesses: out, lines } = takeWithLines(w, 50_000);
        for (let i = 0; i < out.length; i++) assert.ok(accessPage(out[i]!) < 5000, `page ${accessPage(out[i]!)} out of range`);
        for (let i = 0; i < lines.length; i++) {
          const d = lines[i]!;
          assert.ok(d < LINE_DESCRIPTORS && spanFirstLine(d) + spanLineCount(d) <= 64, `descriptor ${d} stays within its page`);
          if (isWriteBackOnly(d)) assert.ok(accessIsWrite(out[i]!), 'a write-back-only access is a write');
        }
      });

      it('rejects an output array that is too small, unknown and out-of-range parameters', () => {
        const w = createWorkload({ kind, pageCount: 1000, seed: 1 });
        assert.throws(() => w.nextOps(10, new Uint32Array(10 * w.accessesPerOp - 1), new Uint16Array(10 * w.accessesPerOp)), new RegExp(`workload ${kind}: output holds`));
        assert.throws(() => w.nextOps(10, new Uint32Array(10 * w.accessesPerOp), new Uint16Array(1)), new RegExp(`workload ${kind}: line output holds 1`));
        assert.throws(() => createWorkload({ kind, pageCount: 1000, seed: 1, params: { bogus: 1 } }), /unknown parameter 'bogus' \(known: /);
        assert.throws(() => createWorkload({ kind, pageCount: 1000, seed: 1, params: { cpuNsPerOp: 'fast' } }), /parameter 'cpuNsPerOp' must be a number, got 'fast'/);
        assert.throws(() => createWorkload({ kind, pageCount: 0, seed: 1 }), /pageCount must be an integer/);
      });
    });
  }

  it('an unknown kind is an error listing the known ones', () => {
    assert.throws(() => createWorkload({ kind: 'zipf', pageCount: 10, seed: 1 }), /unknown workload 'zipf' \(known: kv-zipf, gups, scan, phase, resize, graph, trace:<file>\)/);
  });

  it('lists every kind with a one-line description for --help', () => {
    const text = describeWorkloadKinds();
    for (const k of WORKLOAD_KINDS) {
      assert.ok(text.includes(k.kind) && !k.description.includes('\n'));
      for (const p of k.params) assert.ok(p.description.length > 0, `${k.kind}.${p.name} has no description`);
    }
  });

  it('parameters given as text (from the command line) are parsed', () => {
    const w = createWorkload({ kind: 'gups', pageCount: 1000, seed: 1, params: { hotFraction: '0.5', cpuNsPerOp: '7' } });
    assert.equal(w.cpuNsPerOp, 7);
    assert.equal((w as GupsWorkload).hotPages, 500);
    assert.throws(() => createWorkload({ kind: 'gups', pageCount: 1000, seed: 1, params: { hotLayout: 'diagonal' } }), /must be one of scattered, contiguous, got 'diagonal'/);
    assert.throws(() => createWorkload({ kind: 'gups', pageCount: 1000, seed: 1, params: { hotShare: 2 } }), /'hotShare' must be <= 1, got 2/);
  });
});

describe('sim/workloads: distributions', () => {
  it('kv-zipf: the hottest 20% of records get about 80% of record accesses', () => {
    const w = new KvZipfWorkload({ kind: 'kv-zipf', pageCount: 100_000, seed: 5 });
    const hotPages = new Uint8Array(w.pageCount);
    const hotRecords = Math.round(0.2 * w.recordPages);
    for (let r = 0; r < hotRecords; r++) hotPages[w.pageOfRank(r)] = 1;
    const out = take(w, 400_000);
    let record = 0;
    let hot = 0;
    for (let i = 1; i < out.length; i += 2) {
      record++;
      if (hotPages[accessPage(out[i]!)]) hot++;
    }
    const share = hot / record;
    assert.ok(Math.abs(share - 0.8) < 0.01, `hot share ${share.toFixed(4)}`);
  });

  it('kv-zipf: 50% of operations update, index slots are read, hot records are scattered', () => {
    const w = new KvZipfWorkload({ kind: 'kv-zipf', pageCount: 100_000, seed: 5 });
    const out = take(w, 200_000);
    let updates = 0;
    for (let i = 0; i < out.length; i += 2) {
      assert.ok(accessPage(out[i]!) < w.indexPages && !accessIsWrite(out[i]!), 'first access of an op reads the index');
      assert.ok(accessPage(out[i + 1]!) >= w.indexPages, 'second access of an op is a record');
      if (accessIsWrite(out[i + 1]!)) updates++;
    }
    assert.ok(Math.abs(updates / 200_000 - 0.5) < 0.01, `update share ${updates / 200_000}`);
    // The 100 hottest records are not packed together: they spread over most of the record pages.
    const hottest = Array.from({ length: 100 }, (_, r) => w.pageOfRank(r)).sort((a, b) => a - b);
    assert.ok(hottest[99]! - hottest[0]! > 0.5 * w.recordPages, 'hot records scattered');
    let adjacent = 0;
    for (let i = 1; i < 100; i++) if (hottest[i]! - hottest[i - 1]! === 1) adjacent++;
    assert.ok(adjacent < 10, `${adjacent} adjacent pairs among the hottest 100`);
  });

  it('kv-zipf: theta can be given instead of derived, and a skewer theta gives a larger hot share', () => {
    const share = (theta: number) => {
      const w = new KvZipfWorkload({ kind: 'kv-zipf', pageCount: 50_000, seed: 2, params: { theta } });
      const { counts } = countPages(w, take(w, 200_000));
      let hot = 0;
      for (let r = 0; r < 0.2 * w.recordPages; r++) hot += counts[w.pageOfRank(r)]!;
      return hot / 200_000;
    };
    assert.ok(share(0.99) > share(0.6) + 0.15);
  });

  it('gups: half the accesses write; HeMem hot set gets 90% of updates plus its share of the rest', () => {
    const w = new GupsWorkload({ kind: 'gups', pageCount: 64_000, seed: 3 });
    const out = take(w, 200_000);
    const { counts, writes } = countPages(w, out);
    assert.equal(writes, out.length / 2);
    for (let i = 0; i < out.length; i += 2) assert.equal(accessPage(out[i]!), accessPage(out[i + 1]!), 'read-modify-write of one page');
    let hot = 0;
    let hotPages = 0;
    for (let p = 0; p < w.pageCount; p++) {
      if (w.isHot(p)) {
        hot += counts[p]!;
        hotPages++;
      }
    }
    assert.equal(hotPages, 8000);
    const expected = 0.9 + 0.1 * 0.125;
    assert.ok(Math.abs(hot / out.length - expected) < 0.01, `hot share ${hot / out.length} vs ${expected}`);
    // Scattered by default: the hot set is not the first pages.
    assert.ok(!w.isHot(0) || !w.isHot(1) || !w.isHot(2));
    const contiguous = new GupsWorkload({ kind: 'gups', pageCount: 64_000, seed: 3, params: { hotLayout: 'contiguous' } });
    assert.ok(contiguous.isHot(0) && contiguous.isHot(7999) && !contiguous.isHot(8000));
  });

  it('gups: hotFraction=0 is uniform GUPS', () => {
    const w = new GupsWorkload({ kind: 'gups', pageCount: 100, seed: 3, params: { hotFraction: 0 } });
    const { counts } = countPages(w, take(w, 100_000));
    for (const c of counts) assert.ok(Math.abs(c - 2000) < 300, `page count ${c} vs 2000`);
  });

  it('scan: pages are read in sequence inside a window that moves', () => {
    const w = new ScanWorkload({ kind: 'scan', pageCount: 10_000, seed: 4, params: { coldShare: 0 } });
    assert.equal(w.windowPages, 1000);
    assert.equal(w.stepPages, 20);
    const start = w.currentWindowStart;
    const out = take(w, 1000);
    for (let op = 0; op < 1000; op++) {
      assert.equal(accessPage(out[op * 4]!), (start + op) % 10_000);
      assert.ok(!accessIsWrite(out[op * 4]!));
    }
    assert.equal(w.currentWindowStart, (start + 20) % 10_000, 'window slid by one step after a pass');
    // After 50 passes no page of the first window is visited any more.
    take(w, 49 * 1000);
    const later = countPages(w, take(w, 1000)).counts;
    for (let i = 0; i < 1000; i++) assert.equal(later[(start + i) % 10_000], 0);
  });

  it('scan: coldShare of the operations run a full scan over all pages', () => {
    const w = new ScanWorkload({ kind: 'scan', pageCount: 10_000, seed: 4, params: { windowFraction: 0.01, stepFraction: 0 } });
    const { counts } = countPages(w, take(w, 200_000));
    let touched = 0;
    for (const c of counts) if (c > 0) touched++;
    assert.equal(touched, 10_000, 'the background scan reaches every page');
  });

  it('phase: the hot set really changes after phaseOps operations', () => {
    const phaseOps = 100_000;
    const w = new PhaseWorkload({ kind: 'phase', pageCount: 20_000, seed: 6, params: { phaseOps } });
    const hot0 = new Set(w.hotSetOfPhase(0));
    const hot1 = new Set(w.hotSetOfPhase(1));
    assert.equal(hot0.size, 2000);
    for (const p of hot1) assert.ok(!hot0.has(p), 'consecutive hot sets are disjoint');
    const topPages = (counts: Float64Array) =>
      new Set(Array.from(counts.keys()).sort((a, b) => counts[b]! - counts[a]! || a - b).slice(0, 2000));
    const first = topPages(countPages(w, take(w, phaseOps)).counts);
    const second = topPages(countPages(w, take(w, phaseOps)).counts);
    const overlap = (a: Set<number>, b: Set<number>) => [...a].filter((p) => b.has(p)).length;
    assert.ok(overlap(first, hot0) > 1990, `phase 0: ${overlap(first, hot0)} of the measured hot pages are the hot set`);
    assert.ok(overlap(second, hot1) > 1990, `phase 1: ${overlap(second, hot1)}`);
    assert.ok(overlap(first, second) < 50, 'the measured hot sets of the two phases barely overlap');
    assert.equal(w.phaseOf(phaseOps - 1), 0);
    assert.equal(w.phaseOf(phaseOps), 1);
  });

  it('phase: a phase change inside one nextOps batch happens at the exact operation', () => {
    const w = new PhaseWorkload({ kind: 'phase', pageCount: 1000, seed: 6, params: { phaseOps: 500, hotShare: 1, hotFraction: 0.1 } });
    const out = take(w, 1000);
    const hot0 = new Set(w.hotSetOfPhase(0));
    const hot1 = new Set(w.hotSetOfPhase(1));
    for (let i = 0; i < out.length; i++) {
      const set = i < 500 * w.accessesPerOp ? hot0 : hot1;
      assert.ok(set.has(accessPage(out[i]!)), `access ${i} in the wrong phase's hot set`);
    }
  });

  it('graph: vertex popularity follows a power law; a third of the accesses write vertex pages', () => {
    const w = new GraphWorkload({ kind: 'graph', pageCount: 50_000, seed: 8 });
    assert.equal(w.vertexPages, 10_000, 'a fifth of the pages hold vertices at average degree 16');
    const out = take(w, 300_000);
    const { counts, writes } = countPages(w, out);
    assert.equal(writes, 300_000);
    for (let i = 0; i < out.length; i += 3) {
      assert.ok(accessPage(out[i]!) < w.vertexPages && !accessIsWrite(out[i]!));
      assert.ok(accessPage(out[i + 1]!) >= w.vertexPages && !accessIsWrite(out[i + 1]!));
      assert.ok(accessPage(out[i + 2]!) < w.vertexPages && accessIsWrite(out[i + 2]!));
    }
    // The most popular vertex's page is among the hottest vertex pages, and vertex pages are skewed.
    const topVertexPage = Math.floor(w.vertexOfRank(0) / 256);
    const vertexCounts = Array.from(counts.subarray(0, w.vertexPages)).sort((a, b) => b - a);
    assert.ok(counts[topVertexPage]! >= vertexCounts[10]!, 'hottest vertex page near the top');
    const top1 = vertexCounts.slice(0, w.vertexPages / 100).reduce((s, c) => s + c, 0);
    assert.ok(top1 / 600_000 > 0.05, `top 1% of vertex pages get ${((100 * top1) / 600_000).toFixed(1)}% of vertex accesses`);
    // A walk reads each edge equally often (a vertex is visited in proportion to its degree).
    const edgeCounts = Array.from(counts.subarray(w.vertexPages)).sort((a, b) => b - a);
    const edgeTop10 = edgeCounts.slice(0, edgeCounts.length / 10).reduce((s, c) => s + c, 0);
    assert.ok(edgeTop10 / 300_000 < 0.3, `top 10% of edge pages get ${((100 * edgeTop10) / 300_000).toFixed(1)}%`);
  });

  it('graph: the walk moves to the vertex it just wrote', () => {
    const w = new GraphWorkload({ kind: 'graph', pageCount: 5000, seed: 9 });
    const out = take(w, 1000);
    for (let op = 1; op < 1000; op++) assert.equal(accessPage(out[op * 3]!), accessPage(out[op * 3 - 1]!));
  });
});

describe('sim/workloads: line-level locality (which 64 B lines of a page an access moves)', () => {
  const linesOf = (kind: string, ops: number, params?: Record<string, number>) => {
    const w = createWorkload({ kind, pageCount: 20_000, seed: 4, ...(params ? { params } : {}) });
    return { w, ...takeWithLines(w, ops) };
  };

  it('kv-zipf: a get reads its 16-line record, an update rewrites one field (2-3 lines), the index slot is one line', () => {
    const { accesses, lines } = linesOf('kv-zipf', 50_000);
    const fieldSpans = new Set<string>();
    const slotLines = new Set<number>();
    for (let i = 0; i < accesses.length; i += 2) {
      assert.equal(spanLineCount(lines[i]!), 1, 'index slot: one line');
      slotLines.add(spanFirstLine(lines[i]!));
      const record = lines[i + 1]!;
      if (accessIsWrite(accesses[i + 1]!)) {
        assert.ok(spanLineCount(record) >= 2 && spanLineCount(record) <= 3 && spanFirstLine(record) + spanLineCount(record) <= 16, 'one 100 B field of the record');
        fieldSpans.add(`${spanFirstLine(record)}+${spanLineCount(record)}`);
      } else assert.deepEqual([spanFirstLine(record), spanLineCount(record)], [0, 16], 'the whole 1 KB record');
    }
    assert.equal(fieldSpans.size, 10, 'updates hit each of the 10 fields');
    assert.ok(slotLines.size > 60, 'index slots spread over the lines of the index pages');
  });

  it('gups: one random line read, then that line written back (a write-back, no second miss)', () => {
    const { accesses, lines } = linesOf('gups', 50_000);
    const seen = new Uint32Array(64);
    for (let i = 0; i < accesses.length; i += 2) {
      assert.equal(spanLineCount(lines[i]!), 1);
      assert.ok(!isWriteBackOnly(lines[i]!) && !accessIsWrite(accesses[i]!));
      assert.ok(isWriteBackOnly(lines[i + 1]!) && accessIsWrite(accesses[i + 1]!));
      assert.equal(spanFirstLine(lines[i + 1]!), spanFirstLine(lines[i]!), 'the same line');
      seen[spanFirstLine(lines[i]!)]!++;
    }
    for (const c of seen) assert.ok(Math.abs(c - 50_000 / 64) < 5 * Math.sqrt(50_000 / 64), `line counts ${Array.from(seen).join(',')}`);
  });

  it('scan: the accesses of one page together move all 64 lines, once each', () => {
    for (const accessesPerOp of [4, 3, 1]) {
      const { w, accesses, lines } = linesOf('scan', 1000, { accessesPerOp });
      for (let op = 0; op < 1000; op++) {
        const covered = new Uint8Array(64);
        for (let a = 0; a < w.accessesPerOp; a++) {
          const d = lines[op * w.accessesPerOp + a]!;
          assert.equal(accessPage(accesses[op * w.accessesPerOp + a]!), accessPage(accesses[op * w.accessesPerOp]!));
          for (let l = spanFirstLine(d); l < spanFirstLine(d) + spanLineCount(d); l++) covered[l]!++;
        }
        assert.deepEqual(Array.from(covered), new Array(64).fill(1), `op ${op} with ${accessesPerOp} accesses`);
      }
    }
  });

  it('phase and graph: each access moves one line', () => {
    for (const kind of ['phase', 'resize', 'graph']) {
      const { lines } = linesOf(kind, 10_000);
      const firstLines = new Set<number>();
      for (const d of lines) {
        assert.equal(spanLineCount(d), 1, kind);
        firstLines.add(spanFirstLine(d));
      }
      assert.ok(firstLines.size > 32, `${kind}: lines spread over the page`);
    }
  });
});
