import assert from 'node:assert/strict';
import { ResizeWorkload } from '../../../plugin/sim/workloads/resize.js';
import { countPages, take } from './helpers.js';

describe('sim/workloads: resize (hot set that grows or shrinks)', () => {
  /** Pages touched far more often than uniform background traffic would touch them. */
  const hotPages = (w: ResizeWorkload, ops: number): Set<number> => {
    const { counts } = countPages(w, take(w, ops));
    const uniform = (ops * w.accessesPerOp * 0.1) / w.pageCount;
    const hot = new Set<number>();
    counts.forEach((c, p) => c > 4 * uniform + 3 && hot.add(p));
    return hot;
  };

  it('has a hot set of hotFraction before phaseOps and hotFractionAfter after; the grown set holds the old one', () => {
    const w = new ResizeWorkload({ kind: 'resize', pageCount: 10_000, seed: 7, params: { hotFraction: 0.02, hotFractionAfter: 0.2, phaseOps: 100_000 } });
    const before = hotPages(w, 100_000);
    const after = hotPages(w, 200_000);
    assert.ok(Math.abs(before.size - 200) <= 10, `hot set before: ${before.size} pages`);
    assert.ok(Math.abs(after.size - 2000) <= 100, `hot set after: ${after.size} pages`);
    let kept = 0;
    for (const p of before) if (after.has(p)) kept++;
    assert.ok(kept >= before.size * 0.95, `only ${kept} of ${before.size} old hot pages still hot`);
  });

  it('shrinks as well', () => {
    const w = new ResizeWorkload({ kind: 'resize', pageCount: 10_000, seed: 7, params: { hotFraction: 0.3, hotFractionAfter: 0.03, phaseOps: 100_000 } });
    assert.equal(w.hotPagesAt(0), 3000);
    assert.equal(w.hotPagesAt(100_000), 300);
    hotPages(w, 100_000);
    const after = hotPages(w, 200_000);
    assert.ok(Math.abs(after.size - 300) <= 15, `hot set after: ${after.size} pages`);
  });
});
