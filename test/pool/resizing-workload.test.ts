import assert from 'node:assert/strict';
import { accessPage } from '../../plugin/sim/workload.js';
import { ResizingWorkload } from '../../plugin/pool/resizing-workload.js';

describe('resize workload (hot set that grows or shrinks)', () => {
  const distinctHot = (w: ResizingWorkload, ops: number): number => {
    const out = new Uint32Array(ops * w.accessesPerOp);
    w.nextOps(ops, out);
    const counts = new Map<number, number>();
    for (const a of out) counts.set(accessPage(a), (counts.get(accessPage(a)) ?? 0) + 1);
    // Pages touched far more than uniform traffic would: the hot set.
    const uniform = (out.length * 0.1) / w.pageCount;
    return [...counts.values()].filter((c) => c > 4 * uniform + 3).length;
  };

  it('has a hot set of hotFraction, then hotFractionAfter, and is deterministic', () => {
    const spec = { kind: 'resize', pageCount: 10_000, seed: 7, params: { hotFraction: 0.02, hotFractionAfter: 0.2, phaseOps: 100_000 } };
    const w = new ResizingWorkload(spec);
    const before = distinctHot(w, 100_000);
    const after = distinctHot(w, 200_000);
    assert.ok(Math.abs(before - 200) <= 10, `hot set before ${before}`);
    assert.ok(Math.abs(after - 2000) <= 100, `hot set after ${after}`);
    const a = new Uint32Array(1000);
    const b = new Uint32Array(1000);
    new ResizingWorkload(spec).nextOps(500, a);
    new ResizingWorkload(spec).nextOps(500, b);
    assert.deepEqual(a, b);
  });

  it('refuses bad parameters by name', () => {
    assert.throws(() => new ResizingWorkload({ kind: 'resize', pageCount: 100, seed: 1, params: { hotFraction: 2 } }), /hotFraction must be a number in \[0.0001, 1\], got 2/);
  });
});
