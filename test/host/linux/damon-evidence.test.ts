/** DAMON regions -> per-page evidence, against a brute-force reference on random snapshots. */
import assert from 'node:assert/strict';
import { harvestAccessed, lastAccessFromRegions, type PagedRange } from '../../../plugin/host/linux/damon-evidence.js';
import type { DamonRegion } from '../../../plugin/host/linux/damon.js';
import { bitmapGet, bitmapSet, createBitmap } from '../../../plugin/util/bitmap.js';
import { rng } from '../../engine/reference.js';

const PAGE = 4096n;

/**
 * Per page: the last access of the LAST region (in list order) that covers
 * any byte of it; an idle region whose age reaches back to the monitoring
 * start `since` was never seen accessed (0).
 */
function referenceLastAccess(regions: DamonRegion[], ranges: PagedRange[], aggrMs: number, at: number, since: number, pages: number): number[] {
  const out = new Array<number>(pages).fill(0);
  for (const g of ranges) {
    for (let p = 0; p < g.pageCount; p++) {
      const lo = g.hostVirtAddr + BigInt(p) * PAGE;
      for (const d of regions) if (d.start < lo + PAGE && d.end > lo) {
        const idleSince = at - (d.age + 1) * aggrMs;
        out[g.firstPage + p] = d.nrAccesses > 0 ? at : idleSince <= since ? 0 : Math.max(1, idleSince);
      }
    }
  }
  return out;
}

describe('linux host: DAMON evidence per page', () => {
  it('places regions on pages as a per-page reference does (partial pages, gaps, several ranges)', () => {
    const random = rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const ranges: PagedRange[] = [];
      let first = 0;
      let addr = 0x7f0000000000n;
      for (let r = 0; r < 1 + Math.floor(random() * 3); r++) {
        const pageCount = 1 + Math.floor(random() * 80);
        ranges.push({ firstPage: first, pageCount, hostVirtAddr: addr });
        first += pageCount;
        addr += BigInt(pageCount + Math.floor(random() * 20)) * PAGE;
      }
      // Non-overlapping regions in address order, byte-granular edges (DAMON's are page-aligned, but be safe).
      const regions: DamonRegion[] = [];
      let at = 0x7f0000000000n - 5n * PAGE;
      while (at < addr + 5n * PAGE) {
        const len = BigInt(1 + Math.floor(random() * 30 * 4096));
        if (random() < 0.8) regions.push({ start: at, end: at + len, nrAccesses: random() < 0.5 ? 0 : Math.floor(random() * 20), age: Math.floor(random() * 10) });
        at += len + (random() < 0.3 ? BigInt(Math.floor(random() * 8192)) : 0n);
      }
      const out = new Uint32Array(first);
      const since = trial % 3 === 0 ? -2000 : Math.floor(random() * 5000);
      lastAccessFromRegions(regions, ranges, 100, 5000, since, out);
      assert.deepEqual(Array.from(out), referenceLastAccess(regions, ranges, 100, 5000, since, first), `trial ${trial}`);
    }
  });

  it("the first snapshot after DAMON starts marks only the regions it saw accessed (young idle regions were never seen accessed)", () => {
    const ranges: PagedRange[] = [{ firstPage: 0, pageCount: 30, hostVirtAddr: 0x10000000n }];
    const region = (fromPage: number, toPage: number, nrAccesses: number, age: number): DamonRegion => ({
      start: 0x10000000n + BigInt(fromPage) * PAGE, end: 0x10000000n + BigInt(toPage) * PAGE, nrAccesses, age,
    });
    // Monitoring began at 40 ms (ms since the host opened), aggregation 100 ms; asked at 150 ms,
    // answered at the aggregation after it: a region idle since the start is 1 or 2 intervals old.
    const regions = [region(0, 10, 0, 2), region(10, 20, 7, 0), region(20, 30, 0, 1)];
    const lastAccess = new Uint32Array(30);
    lastAccessFromRegions(regions, ranges, 100, 150, 40, lastAccess);
    const scan = createBitmap(30);
    for (let i = 0; i < 30; i++) bitmapSet(scan, i);
    const accessed = createBitmap(30);
    harvestAccessed(scan, lastAccess, new Uint32Array(30), 150, 30, accessed);
    const marked = Array.from({ length: 30 }, (_, i) => bitmapGet(accessed, i));
    assert.deepEqual(marked, Array.from({ length: 30 }, (_, i) => i >= 10 && i < 20));
    // Later, an idle region whose quiet began after the start was accessed before it went quiet.
    lastAccessFromRegions([region(0, 30, 0, 2)], ranges, 100, 1000, 40, lastAccess);
    assert.equal(lastAccess[0], 700);
  });

  it('reports a page accessed exactly when its last access is after its last clear, and clears only scanned pages', () => {
    const random = rng(9);
    for (let trial = 0; trial < 100; trial++) {
      const n = 1 + Math.floor(random() * 200);
      const lastAccess = Uint32Array.from({ length: n }, () => Math.floor(random() * 100));
      const lastClear = Uint32Array.from({ length: n }, () => Math.floor(random() * 100));
      const scan = createBitmap(n + 40); // longer than pageCount: bits past it are ignored
      for (let i = 0; i < n + 40; i++) if (random() < 0.5) bitmapSet(scan, i);
      const accessed = createBitmap(n + 40);
      const before = lastClear.slice();
      const scanned = harvestAccessed(scan, lastAccess, lastClear, 200, n, accessed);
      let expectScanned = 0;
      for (let i = 0; i < n; i++) {
        const s = bitmapGet(scan, i);
        if (s) expectScanned++;
        assert.equal(bitmapGet(accessed, i), s && lastAccess[i]! > before[i]!, `page ${i}`);
        assert.equal(lastClear[i], s ? 200 : before[i]);
      }
      for (let i = n; i < n + 40; i++) assert.equal(bitmapGet(accessed, i), false);
      assert.equal(scanned, expectScanned);
    }
  });
});
