/**
 * A minimal memory host for the engine-and-pool test: the first `hot` pages
 * are accessed every round, nothing is written, and migration just flips the
 * page's tier. Enough to drive the real engine; the sim host is the real one.
 */
import { MigrationOutcome, Tier, type DirtyLogDrain, type MemoryHost, type MigrationResult, type TierUsage } from '../../plugin/host/memory-host.js';
import { bitmapClear, bitmapGet, bitmapSet, createBitmap, type Bitmap } from '../../plugin/util/bitmap.js';

export class PatternHost implements MemoryHost {
  readonly kind = 'test-pattern';
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 1;
  private readonly nvm: Bitmap;
  private hotMap: Bitmap;

  constructor(
    readonly pageCount: number,
    hot: number,
    dramPages: number,
  ) {
    this.nvm = createBitmap(pageCount);
    for (let i = dramPages; i < pageCount; i++) bitmapSet(this.nvm, i);
    this.hotMap = createBitmap(pageCount);
    this.setHot(hot);
  }

  setHot(hot: number): void {
    this.hotMap = createBitmap(this.pageCount);
    for (let i = 0; i < hot; i++) bitmapSet(this.hotMap, i);
  }

  dramPages(): number {
    let n = 0;
    for (let i = 0; i < this.pageCount; i++) if (!bitmapGet(this.nvm, i)) n++;
    return n;
  }

  regions() {
    return [{ name: 'ram', firstPage: 0, pageCount: this.pageCount }];
  }
  async readTierMap(out: Bitmap): Promise<void> {
    out.set(this.nvm);
  }
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    for (let w = 0; w < scan.length; w++) accessed[w] = scan[w]! & this.hotMap[w]!;
    return this.pageCount;
  }
  async testAndClearDirty(): Promise<number> {
    return 0;
  }
  async drainDirtyLog(): Promise<DirtyLogDrain> {
    return { pages: new Uint32Array(0), count: 0, overflowed: false, bufferFullExits: 0 };
  }
  async migrate(pages: Uint32Array, target: Tier): Promise<MigrationResult> {
    const outcome = new Uint8Array(pages.length);
    let moved = 0;
    pages.forEach((p, i) => {
      const inNvm = bitmapGet(this.nvm, p);
      if ((target === Tier.NVM) === inNvm) outcome[i] = MigrationOutcome.AlreadyThere;
      else {
        if (target === Tier.NVM) bitmapSet(this.nvm, p);
        else bitmapClear(this.nvm, p);
        outcome[i] = MigrationOutcome.Moved;
        moved++;
      }
    });
    return { outcome, failures: [], moved, busy: 0, failed: 0, bytesCopied: moved * 4096, recopies: 0, pauseNs: 0, maxPauseNs: 0 };
  }
  async tierUsage(): Promise<TierUsage[]> {
    const dram = this.dramPages();
    return [
      { tier: Tier.DRAM, name: 'dram', capacityPages: this.pageCount, usedPages: dram, vmPages: dram },
      { tier: Tier.NVM, name: 'nvm', capacityPages: this.pageCount, usedPages: this.pageCount - dram, vmPages: this.pageCount - dram },
    ];
  }
  async close(): Promise<void> {}
}
