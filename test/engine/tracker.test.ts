import assert from 'node:assert/strict';
import type { DirtyLogDrain, MemoryHost, MigrationResult, TierUsage } from '../../plugin/host/memory-host.js';
import { LEVEL_BITS, PageState, setSlice } from '../../plugin/engine/page-state.js';
import { revalidateDram } from '../../plugin/engine/revalidate.js';
import { Tracker } from '../../plugin/engine/tracker.js';
import { bitmapCount, bitmapFill, bitmapGet, bitmapSet, createBitmap, type Bitmap } from '../../plugin/util/bitmap.js';

/** A host whose pages are accessed (and written) in the rounds a script says; records what each round harvested. */
class ScriptedHost implements MemoryHost {
  readonly kind = 'scripted';
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 1;
  round = 0;
  harvested: number[][] = [];
  constructor(readonly pageCount: number, private readonly accessedIn: (page: number, round: number) => boolean, private readonly writtenIn: (page: number, round: number) => boolean) {}
  regions() { return [{ name: 'ram', firstPage: 0, pageCount: this.pageCount }]; }
  async readTierMap(out: Bitmap) { out.fill(0); }
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap) {
    const got: number[] = [];
    for (let p = 0; p < this.pageCount; p++) {
      if (!bitmapGet(scan, p)) continue;
      got.push(p);
      if (this.accessedIn(p, this.round)) bitmapSet(accessed, p);
    }
    this.harvested.push(got);
    return got.length;
  }
  async testAndClearDirty(_scan: Bitmap, _dirty: Bitmap) { return 0; }
  async drainDirtyLog(): Promise<DirtyLogDrain> {
    const pages: number[] = [];
    for (let p = 0; p < this.pageCount; p++) if (this.writtenIn(p, this.round)) pages.push(p);
    this.round++;
    return { pages: Uint32Array.from(pages), count: pages.length, overflowed: false, bufferFullExits: 0 };
  }
  async migrate(): Promise<MigrationResult> { throw new Error('not used'); }
  async tierUsage(): Promise<readonly TierUsage[]> { return []; }
  async close() {}
}

describe('engine/tracker (the sieve)', () => {
  it('harvests every due page in the first round, then only the pages seen in every round so far', async () => {
    // Page p is seen in rounds 0 .. p-1 (page 0 never, page 8 in all); odd pages are also written in round 1.
    const host = new ScriptedHost(12, (p, r) => r < p, (p, r) => p % 2 === 1 && r === 1);
    const state = new PageState(12);
    bitmapFill(state.scan, 10); // pages 10 and 11 are left alone this window
    const tracker = new Tracker(host, state);
    for (let r = 0; r < 8; r++) await tracker.scanRound();
    assert.deepEqual(host.harvested[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let r = 1; r < 8; r++) assert.deepEqual(host.harvested[r], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((p) => p >= r), `round ${r}`);
    for (let p = 0; p < 12; p++) {
      assert.equal(state.roundsAccessed(p), p >= 10 ? 0 : Math.min(p, 8), `reads of page ${p}`);
      // Written in round 1: counted for pages harvested and seen in round 1 (p >= 2).
      assert.equal(state.roundsWritten(p), p % 2 === 1 && p >= 2 && p < 10 ? 1 : 0, `writes of page ${p}`);
    }
  });

  it('revalidation makes every DRAM page due at level 0 and leaves NVM pages alone', () => {
    const state = new PageState(70);
    for (let p = 0; p < 70; p += 2) bitmapSet(state.nvm, p);
    for (let p = 0; p < 70; p++) setSlice(state.level, LEVEL_BITS, p, 1 + (p % 4));
    const due = revalidateDram(state);
    assert.equal(due, 35);
    for (let p = 0; p < 70; p++) {
      const inNvm = p % 2 === 0;
      assert.equal(state.levelOf(p), inNvm ? 1 + (p % 4) : 0, `level of ${p}`);
      assert.equal(bitmapGet(state.scan, p), !inNvm, `due ${p}`);
    }
    assert.equal(bitmapCount(state.scan), 35);
    void createBitmap;
  });
});
