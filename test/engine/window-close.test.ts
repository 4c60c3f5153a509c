import assert from 'node:assert/strict';
import { TemperatureHistograms } from '../../plugin/engine/histograms.js';
import { COUNTER_BITS, MAX_LEVEL, PageState, sliceAt } from '../../plugin/engine/page-state.js';
import { nextTemperature } from '../../plugin/engine/temperature.js';
import { foldRoundIntoCounters } from '../../plugin/engine/tracker.js';
import { closeWindow, createWindowStats, levelCounts } from '../../plugin/engine/window-close.js';
import { bitmapCount, bitmapFill, bitmapGet, bitmapSet } from '../../plugin/util/bitmap.js';
import { rng } from './reference.js';

function setUp(pages: number) {
  const state = new PageState(pages);
  bitmapFill(state.scan, pages);
  const hist = new TemperatureHistograms();
  hist.recount(state);
  return { state, hist };
}

/** Records window evidence for a page as the tracker does. */
function addEvidence(state: PageState, page: number, evidence: number) {
  state.setEvidence(page, evidence & 15, evidence >>> 4);
}

/** Runs one window where `seen(page)` says whether a scanned page showed an access this window. */
function window(state: PageState, hist: TemperatureHistograms, seen: (page: number) => boolean) {
  for (let p = 0; p < state.pageCount; p++) {
    if (bitmapGet(state.scan, p) && seen(p)) addEvidence(state, p, 1);
  }
  const stats = createWindowStats();
  closeWindow(state, hist, stats);
  return stats;
}

describe('engine/window-close (multi-level queue, temperature)', () => {
  it('moves a page up a level each time it is seen, scans it once every 2^L windows, and down when unseen', () => {
    const { state, hist } = setUp(1);
    const trace: Array<{ level: number; scanned: boolean }> = [];
    for (let w = 0; w < 64; w++) {
      const scanned = bitmapGet(state.scan, 0);
      window(state, hist, () => w < 30);
      trace.push({ level: state.levelOf(0), scanned });
    }
    const scannedAt = trace.flatMap((t, i) => (t.scanned ? [i] : []));
    // Page 0 has phase 0: at level L it is due in windows that are multiples of 2^L.
    assert.deepEqual(scannedAt.filter((w) => w < 30), [0, 2, 4, 8, 16]);
    assert.deepEqual(trace.slice(0, 17).map((t) => t.level), [1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    // Unseen from window 30: scanned at 32 (down to 3), 40 (down to 2), 44 (1), 46 (0), then every window.
    assert.deepEqual(scannedAt.filter((w) => w >= 30 && w < 50), [32, 40, 44, 46, 47, 48, 49]);
    assert.equal(trace[47]!.level, 0);
    assert.equal(MAX_LEVEL, 4);
  });

  it('spreads each level evenly over windows and scans fewer pages as pages settle', () => {
    const n = 10_000;
    const { state, hist } = setUp(n);
    const hot = (p: number) => p % 10 !== 0; // 90% of pages hot and stable
    const scans: number[] = [];
    for (let w = 0; w < 40; w++) {
      window(state, hist, hot);
      scans.push(bitmapCount(state.scan));
    }
    const levels = levelCounts(state);
    assert.equal(levels[MAX_LEVEL], n * 0.9, 'stable hot pages reach the top level');
    assert.equal(levels[0], n * 0.1, 'unseen pages stay at level 0');
    // Top-level pages: each is due once in 16 windows, so over 16 windows the scan
    // work is every cold page each window plus each hot page once.
    const late = scans.slice(20, 36);
    assert.equal(late.reduce((a, b) => a + b, 0), 16 * n * 0.1 + n * 0.9);
    for (const s of late) assert.ok(s < n * 0.2, `scan set ${s} of ${n} in one window`);
  });

  it('ages a cooled page and heats a written page faster than a read one', () => {
    assert.equal(nextTemperature(0, 8, 0), 16);
    assert.equal(nextTemperature(0, 8, 8), 24);
    assert.equal(nextTemperature(40, 0, 0), 20);
    // Halving rounds the loss up: a page that is not seen again goes cold (temperature 0), it does not stay at 1.
    let cold = 9;
    for (let w = 0; w < 5; w++) cold = nextTemperature(cold, 0, 0);
    assert.equal(cold, 0, 'a page not seen for five windows is cold (9, 5, 3, 2, 1, 0)');
    let t = 0;
    for (let w = 0; w < 20; w++) t = nextTemperature(t, 8, 8);
    assert.equal(t, 48, 'a page written every round settles at 48');
    const { state, hist } = setUp(2);
    state.temperature[0] = 64;
    bitmapSet(state.warm, 0);
    hist.recount(state);
    addEvidence(state, 1, 8); // 8 rounds accessed
    const stats = createWindowStats();
    closeWindow(state, hist, stats);
    assert.equal(state.temperature[0], 32);
    assert.equal(state.temperature[1], 16);
    assert.equal(stats.all[32], 1);
    assert.equal(stats.all[16], 1);
  });

  it('counts evidence in bit-sliced counters that saturate at 15', () => {
    const state = new PageState(40);
    const round = new Uint32Array(2);
    for (let r = 0; r < 20; r++) {
      round[1] = (1 << 3) | (r < 5 ? 1 << 7 : 0);
      foldRoundIntoCounters(round, state.reads);
      assert.deepEqual(Array.from(round), [0, 0], 'the fold leaves the round bitmap clear');
    }
    assert.equal(sliceAt(state.reads, COUNTER_BITS, 32 + 3), 15);
    assert.equal(sliceAt(state.reads, COUNTER_BITS, 32 + 7), 5);
    assert.equal(sliceAt(state.reads, COUNTER_BITS, 32 + 8), 0);
    assert.ok(state.hasEvidence(32 + 7) && !state.hasEvidence(32 + 8));
  });

  it('keeps its histograms equal to a recount over random windows', () => {
    const random = rng(3);
    const n = 777;
    const { state, hist } = setUp(n);
    for (let p = 0; p < n; p++) if (random() < 0.5) bitmapSet(state.nvm, p);
    hist.recount(state);
    for (let w = 0; w < 30; w++) {
      for (let p = 0; p < n; p++) if (random() < 0.3) addEvidence(state, p, Math.floor(random() * 256));
      closeWindow(state, hist, createWindowStats());
      const fresh = new TemperatureHistograms();
      fresh.recount(state);
      assert.deepEqual(hist.dram, fresh.dram, `window ${w}`);
      assert.deepEqual(hist.nvm, fresh.nvm, `window ${w}`);
    }
  });

  it('counts movable pages by tier, leaving out pages moved lately', () => {
    const { state, hist } = setUp(4);
    bitmapSet(state.nvm, 0);
    bitmapSet(state.nvm, 1);
    hist.recount(state);
    state.markMoved(2);
    state.rotateMoved(); // page 2 moved in the last window
    state.markMoved(1);
    const stats = createWindowStats();
    closeWindow(state, hist, stats);
    assert.equal(stats.nvmPages, 2);
    assert.equal(stats.movableNvm[0], 1);
    assert.equal(stats.movableDram[0], 1);
    assert.equal(stats.dram[0], 2);
  });
});
