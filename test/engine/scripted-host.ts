/**
 * A memory host whose accessed bits, dirty bits and dirty log the test sets,
 * round by round: a due page's bit is harvested (and cleared) once. The
 * per-page references of engine-state.test.ts and every-written.test.ts
 * drive the tracker through it.
 */
import type { DirtyLogDrain, MemoryHost, MigrationResult, TierUsage } from '../../plugin/host/memory-host.js';
import { bitmapGet, bitmapSet, createBitmap, type Bitmap } from '../../plugin/util/bitmap.js';

export class ScriptedHost implements MemoryHost {
  readonly kind = 'scripted';
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 1;
  readonly accessedBits: Bitmap;
  readonly dirtyBits: Bitmap;
  log: number[] = [];
  overflowed = false;

  constructor(readonly pageCount: number) {
    this.accessedBits = createBitmap(pageCount);
    this.dirtyBits = createBitmap(pageCount);
  }
  regions() { return [{ name: 'ram', firstPage: 0, pageCount: this.pageCount }]; }
  async readTierMap(): Promise<void> { throw new Error('not used'); }
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> { return testAndClear(scan, accessed, this.accessedBits); }
  async testAndClearDirty(scan: Bitmap, dirty: Bitmap): Promise<number> { return testAndClear(scan, dirty, this.dirtyBits); }
  async drainDirtyLog(): Promise<DirtyLogDrain> {
    const pages = Uint32Array.from(this.log);
    this.log = [];
    return { pages, count: pages.length, overflowed: this.overflowed, bufferFullExits: 0 };
  }
  async migrate(_pages: Uint32Array): Promise<MigrationResult> { throw new Error('not used'); }
  async tierUsage(): Promise<TierUsage[]> { return []; }
  async close(): Promise<void> {}
}

function testAndClear(scan: Bitmap, out: Bitmap, bits: Bitmap): number {
  let n = 0;
  for (let p = 0; p < scan.length * 32; p++) {
    if (!bitmapGet(scan, p)) continue;
    n++;
    if (bitmapGet(bits, p)) bitmapSet(out, p);
    bits[p >>> 5]! &= ~(1 << (p & 31));
  }
  return n;
}
