/**
 * DAMON region snapshots turned into per-page accessed evidence (pure: no
 * kernel access here; linux-host.ts feeds it snapshots).
 *
 * DAMON gives, per region, the accesses seen in the last aggregation interval
 * and the age (intervals the pattern held). A region with nr_accesses > 0 was
 * accessed at the snapshot; one with nr_accesses == 0 and age a was last
 * accessed about (a + 1) aggregation intervals before it, or never: DAMON's
 * ages start at 0 when it starts monitoring, so a region whose age reaches
 * back to that start was not seen accessed at all (without this, the first
 * snapshot after the start, where every region is young, would mark all
 * guest RAM accessed). A page counts as accessed since its last clear when
 * its region's last access is later than that clear. Times are ms since the
 * host opened (Uint32, 0 = never).
 *
 * Cost: O(guest ranges x DAMON regions) to place the regions, O(pages) to fill
 * the per-page times, O(pages / 32) plus O(scanned pages) to harvest.
 */
import type { Bitmap } from '../../util/bitmap.js';
import type { DamonRegion } from './damon.js';

const PAGE = 4096;

/** One guest-RAM range: page indices [firstPage, firstPage + pageCount) at host address hostVirtAddr. */
export interface PagedRange {
  readonly firstPage: number;
  readonly pageCount: number;
  readonly hostVirtAddr: bigint;
}

/**
 * Sets out[page] to the time the page's DAMON region was last accessed (0
 * where no region covers it, or where its region was not seen accessed since
 * DAMON started monitoring at `monitoredSinceMs`, which may be before the
 * host opened: negative). A region covering part of a page covers the page.
 */
export function lastAccessFromRegions(regions: readonly DamonRegion[], ranges: readonly PagedRange[], aggrMs: number, snapshotAtMs: number, monitoredSinceMs: number, out: Uint32Array): void {
  out.fill(0);
  for (const g of ranges) {
    const gStart = g.hostVirtAddr;
    const gEnd = gStart + BigInt(g.pageCount * PAGE);
    for (const d of regions) {
      if (d.end <= gStart || d.start >= gEnd) continue;
      const lo = Number(((d.start > gStart ? d.start : gStart) - gStart) / BigInt(PAGE));
      const hi = Number(((d.end < gEnd ? d.end : gEnd) - gStart + BigInt(PAGE - 1)) / BigInt(PAGE));
      const seen = d.nrAccesses > 0 ? snapshotAtMs : lastAccessOfIdle(d.age, aggrMs, snapshotAtMs, monitoredSinceMs);
      out.fill(seen, g.firstPage + lo, g.firstPage + hi);
    }
  }
}

/** When a region with no accesses in the last interval and age `age` was last accessed: 0 = not since monitoring began. */
export function lastAccessOfIdle(age: number, aggrMs: number, snapshotAtMs: number, monitoredSinceMs: number): number {
  const seen = snapshotAtMs - (age + 1) * aggrMs;
  return seen <= monitoredSinceMs ? 0 : Math.max(1, seen);
}

/**
 * Test-and-clear over the evidence: for every page of `scan` (below
 * pageCount), sets its bit in `accessed` when lastAccess > lastClear, and
 * records `nowMs` as its last clear. Pages outside `scan` keep their evidence.
 * Returns the number of pages scanned.
 */
export function harvestAccessed(scan: Bitmap, lastAccessMs: Uint32Array, lastClearMs: Uint32Array, nowMs: number, pageCount: number, accessed: Bitmap): number {
  let n = 0;
  const words = Math.min(scan.length, (pageCount + 31) >>> 5);
  for (let w = 0; w < words; w++) {
    let x = scan[w]!;
    if (x === 0) continue;
    if (w === words - 1 && (pageCount & 31) !== 0) x &= (1 << (pageCount & 31)) - 1;
    let hit = 0;
    for (; x !== 0; x &= x - 1) {
      const bit = 31 - Math.clz32(x & -x);
      const page = (w << 5) + bit;
      n++;
      if (lastAccessMs[page]! > lastClearMs[page]!) hit |= 1 << bit;
      lastClearMs[page] = nowMs;
    }
    if (hit !== 0) accessed[w] = accessed[w]! | hit;
  }
  return n;
}
