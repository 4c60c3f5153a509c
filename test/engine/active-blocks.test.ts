import assert from 'node:assert/strict';
import type { DirtyLogDrain, MemoryHost, MigrationResult, TierUsage } from '../../plugin/host/memory-host.js';
import { TemperatureHistograms } from '../../plugin/engine/histograms.js';
import { BLOCK_PAGES, PageState } from '../../plugin/engine/page-state.js';
import { Tracker } from '../../plugin/engine/tracker.js';
import { closeWindow, createWindowStats, type WindowStats } from '../../plugin/engine/window-close.js';
import { bitmapFill, bitmapGet, bitmapSet, createBitmap, type Bitmap } from '../../plugin/util/bitmap.js';
import { rng } from './reference.js';

/**
 * The window pass skips blocks its summary (PageState.activeBlocks) calls
 * quiet. Reference: the same engine with every block set before every
 * window's pass (the pass over every word, as without a summary); both must
 * end every window with the same state, bit for bit.
 */

/** Accessed bits from a per-page rate (some pages leave the sieve), whole blocks cold, writes logged for a subset. */
class BlockyHost implements MemoryHost {
  readonly kind = 'blocky';
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 1;
  private readonly accessed: Bitmap;
  private log: number[] = [];

  constructor(readonly pageCount: number, private readonly random: () => number, private readonly rate: Float64Array, private readonly writer: Uint8Array) {
    this.accessed = createBitmap(pageCount);
  }
  /** The guest runs one round: each page is touched with its rate, a writer's touch is logged. */
  touch(): void {
    for (let p = 0; p < this.pageCount; p++) {
      if (this.rate[p]! === 0 || this.random() >= this.rate[p]!) continue;
      bitmapSet(this.accessed, p);
      if (this.writer[p] !== 0) this.log.push(p);
    }
  }
  regions() { return [{ name: 'ram', firstPage: 0, pageCount: this.pageCount }]; }
  async readTierMap(): Promise<void> {}
  async testAndClearAccessed(scan: Bitmap, out: Bitmap): Promise<number> {
    let n = 0;
    for (let p = 0; p < this.pageCount; p++) {
      if (!bitmapGet(scan, p)) continue;
      n++;
      if (bitmapGet(this.accessed, p)) bitmapSet(out, p);
      this.accessed[p >>> 5]! &= ~(1 << (p & 31));
    }
    return n;
  }
  async testAndClearDirty(): Promise<number> { return 0; }
  async drainDirtyLog(): Promise<DirtyLogDrain> {
    const pages = Uint32Array.from(this.log);
    this.log = [];
    return { pages, count: pages.length, overflowed: false, bufferFullExits: 0 };
  }
  async migrate(): Promise<MigrationResult> { throw new Error('not used'); }
  async tierUsage(): Promise<TierUsage[]> { return []; }
  async close(): Promise<void> {}
}

interface Engine {
  state: PageState;
  hist: TemperatureHistograms;
  stats: WindowStats;
  tracker: Tracker;
  host: BlockyHost;
}

function engine(pageCount: number, seed: number, rate: Float64Array, writer: Uint8Array): Engine {
  const state = new PageState(pageCount);
  bitmapFill(state.scan, pageCount);
  for (let p = 0; p < pageCount; p += 3) bitmapSet(state.nvm, p);
  const hist = new TemperatureHistograms();
  hist.recount(state);
  const host = new BlockyHost(pageCount, rng(seed), rate, writer);
  return { state, hist, stats: createWindowStats(), tracker: new Tracker(host, state), host };
}

function assertSame(a: Engine, b: Engine, what: string): void {
  assert.deepEqual(a.state.temperature, b.state.temperature, `${what}: temperatures`);
  assert.deepEqual(a.state.level, b.state.level, `${what}: levels`);
  assert.deepEqual(a.state.scan, b.state.scan, `${what}: scan set`);
  assert.deepEqual(a.state.warm, b.state.warm, `${what}: warm`);
  assert.deepEqual(a.state.scratch, b.state.scratch, `${what}: scratch (written marks cleared)`);
  assert.deepEqual(a.hist.dram, b.hist.dram, `${what}: DRAM histogram`);
  assert.deepEqual(a.hist.nvm, b.hist.nvm, `${what}: NVM histogram`);
  assert.equal(a.stats.settledScanned, b.stats.settledScanned, `${what}: settled scanned`);
  assert.equal(a.stats.settledDown, b.stats.settledDown, `${what}: settled down`);
}

describe('engine/window-close block summary (skipping quiet blocks)', () => {
  for (const pageCount of [1, 1000, BLOCK_PAGES * 5 + 77, BLOCK_PAGES * 12]) {
    it(`ends every window as the pass over every word does (${pageCount} pages)`, async () => {
      const random = rng(pageCount);
      // Whole blocks cold; in the others pages with rates 1 .. 1/16 per round, some never touched, some writers.
      const rate = new Float64Array(pageCount);
      const writer = new Uint8Array(pageCount);
      for (let b = 0; b * BLOCK_PAGES < pageCount; b++) {
        if (random() < 0.6) continue;
        for (let p = b * BLOCK_PAGES; p < Math.min(pageCount, (b + 1) * BLOCK_PAGES); p++) {
          if (random() < 0.3) continue;
          rate[p] = 1 / (1 << Math.floor(random() * 5));
          writer[p] = random() < 0.1 ? 1 : 0;
        }
      }
      const skipping = engine(pageCount, 7, rate, writer);
      const everyWord = engine(pageCount, 7, rate, writer);
      let skippedSome = false;
      for (let w = 0; w < 40; w++) {
        // Phases: a block turns cold, a cold block turns hot (the summary must follow both ways).
        if (w === 15) for (let p = 0; p < Math.min(pageCount, BLOCK_PAGES); p++) rate[p] = 0;
        if (w === 25) for (let p = pageCount - 1; p >= Math.max(0, pageCount - 300); p--) rate[p] = 1;
        for (const e of [skipping, everyWord]) {
          for (let r = 0; r < 6; r++) {
            e.host.touch();
            await e.tracker.scanRound();
          }
          // From outside, as the huge-page code does: a page of a cold block not due this window.
          if (w % 7 === 3) e.state.scan[e.state.words - 1] = e.state.scan[e.state.words - 1]! & ~1;
          if (w % 9 === 5) e.state.setEvidence(pageCount - 1, 2, 1);
        }
        const active = everyWord.state.activeBlocks;
        if (active !== undefined) bitmapFill(active, Math.ceil(pageCount / BLOCK_PAGES));
        const summary = skipping.state.activeBlocks;
        for (let k = 0; summary !== undefined && k * BLOCK_PAGES < pageCount; k++) if (!bitmapGet(summary, k)) skippedSome = true;
        closeWindow(skipping.state, skipping.hist, skipping.stats, 3);
        closeWindow(everyWord.state, everyWord.hist, everyWord.stats, 3);
        skipping.state.rotateMoved();
        everyWord.state.rotateMoved();
        assertSame(skipping, everyWord, `window ${w}`);
      }
      if (pageCount >= BLOCK_PAGES * 5) assert.ok(skippedSome, 'some block was left out of the pass');
    });
  }

  it('marks blocks given warmth from outside (huge-page adoption) so the pass visits them', () => {
    const state = new PageState(BLOCK_PAGES * 4);
    bitmapFill(state.scan, state.pageCount);
    const hist = new TemperatureHistograms();
    hist.recount(state);
    const stats = createWindowStats();
    closeWindow(state, hist, stats, 3);
    assert.equal(state.activeBlocks![0], 0, 'all blocks quiet after a window without evidence');
    const page = BLOCK_PAGES * 2 + 5;
    state.temperature[page] = 9;
    bitmapSet(state.warm, page);
    state.markActive(page);
    hist.recount(state);
    closeWindow(state, hist, stats, 3);
    assert.equal(state.temperature[page], 5, 'the warm page cooled in the pass');
  });
});
