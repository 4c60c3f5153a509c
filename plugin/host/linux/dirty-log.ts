/**
 * The PML-style dirty log, emulated over soft-dirty bits (pure: bitmaps only;
 * linux-host.ts reads the pagemap and clears the kernel's bits).
 *
 * The kernel's clear_refs "4" clears the soft-dirty bits of the whole process,
 * so every harvest reads all of guest RAM's bits into `pending` first; the
 * engine's calls then hand out pending bits: testAndClearDirty only the
 * scanned pages', drainDirtyLog all of them as a list, or an overflow (like a
 * full PML buffer) when there are more than the log's capacity, leaving them
 * pending for the full scan the engine then makes.
 *
 * Cost: O(pages / 32) word operations per call, plus O(entries) for a drain.
 */
import type { Bitmap } from '../../util/bitmap.js';
import { popcount32 } from '../../util/bitmap.js';
import type { DirtyLogDrain } from '../memory-host.js';

/** Hands out and clears the pending bits of the pages in `scan` (ORed into `dirty`); returns how many pages were scanned. */
export function takeScannedDirty(pending: Bitmap, scan: Bitmap, dirty: Bitmap, pageCount: number): number {
  let n = 0;
  const words = Math.min(scan.length, pending.length, (pageCount + 31) >>> 5);
  const tail = pageCount & 31;
  for (let w = 0; w < words; w++) {
    let s = scan[w]!;
    if (s === 0) continue;
    if (w === words - 1 && tail !== 0) s &= (1 << tail) - 1;
    n += popcount32(s);
    dirty[w] = dirty[w]! | (pending[w]! & s);
    pending[w] = pending[w]! & ~s;
  }
  return n;
}

/** All pending pages as a list (in page order), cleared; or an overflow, leaving them pending, when more than `capacity`. */
export function drainPending(pending: Bitmap, capacity: number): DirtyLogDrain {
  let count = 0;
  for (let w = 0; w < pending.length; w++) {
    const x = pending[w]!;
    if (x !== 0) count += popcount32(x);
  }
  if (count > capacity) return { pages: new Uint32Array(0), count: 0, overflowed: true, bufferFullExits: 0 };
  const pages = new Uint32Array(count);
  let k = 0;
  for (let w = 0; w < pending.length; w++) {
    for (let x = pending[w]!; x !== 0; x &= x - 1) pages[k++] = (w << 5) + 31 - Math.clz32(x & -x);
  }
  pending.fill(0);
  return { pages, count, overflowed: false, bufferFullExits: 0 };
}
