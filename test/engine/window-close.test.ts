import assert from 'node:assert/strict';
import { MAX_LEVEL, PageState, queueLevel, queueSkip } from '../../plugin/engine/page-state.js';
import { nextTemperature } from '../../plugin/engine/temperature.js';
import { closeWindow, createHistograms } from '../../plugin/engine/window-close.js';
import { bitmapFill, bitmapGet, bitmapSet } from '../../plugin/util/bitmap.js';

/** Runs one window where `seen(page)` says whether a scanned page showed an access. */
function window(state: PageState, seen: (page: number) => boolean) {
  for (let p = 0; p < state.pageCount; p++) {
    if (bitmapGet(state.scan, p) && seen(p)) state.window[p] = 1;
  }
  const h = createHistograms();
  closeWindow(state, h);
  return h;
}

describe('engine/window-close (multi-level queue, temperature)', () => {
  it('moves a page up a level when seen and leaves it alone 2^(L-1) windows; down when unseen', () => {
    const state = new PageState(1);
    bitmapFill(state.scan, 1);
    const trace: Array<{ level: number; scanned: boolean }> = [];
    for (let w = 0; w < 40; w++) {
      const scanned = bitmapGet(state.scan, 0);
      window(state, () => w < 30);
      trace.push({ level: queueLevel(state.queue[0]!), scanned });
    }
    // Seen every time it is scanned: level L after its L-th scan, then left alone 2^(L-1) windows.
    const scannedAt = trace.flatMap((t, i) => (t.scanned ? [i] : []));
    assert.deepEqual(scannedAt.slice(0, 6), [0, 2, 5, 10, 19, 36]);
    assert.deepEqual(trace.slice(0, 20).map((t) => t.level), [1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5]);
    // Unseen from window 30: its next scan (window 36) drops it a level, so it waits 8 windows.
    assert.equal(trace[35]!.level, MAX_LEVEL);
    assert.equal(trace[36]!.level, MAX_LEVEL - 1);
    assert.equal(queueSkip(state.queue[0]!), 8 - (39 - 36));
  });

  it('scans fewer pages per window as pages settle', () => {
    const n = 10_000;
    const state = new PageState(n);
    bitmapFill(state.scan, n);
    const hot = (p: number) => p % 10 !== 0; // 90% of pages hot and stable
    const scans: number[] = [];
    for (let w = 0; w < 24; w++) scans.push(window(state, hot).nextScanPages);
    // After the first window the seen pages reach level 1 and skip one window.
    assert.equal(scans[0], n / 10);
    const late = scans.slice(8).reduce((a, b) => a + b, 0) / scans.slice(8).length;
    assert.ok(late < n * 0.25, `scan work settled at ${late} pages per window of ${n}`);
    assert.ok(late > n / 10, 'cold pages are still scanned every window');
  });

  it('ages a cooled page and heats a written page faster than a read one', () => {
    assert.equal(nextTemperature(0, 8, 0), 16);
    assert.equal(nextTemperature(0, 8, 8), 48);
    assert.equal(nextTemperature(40, 0, 0), 20);
    let t = 0;
    for (let w = 0; w < 20; w++) t = nextTemperature(t, 8, 8);
    assert.equal(t, 96, 'a page written every round settles at 96');
    const state = new PageState(2);
    bitmapFill(state.scan, 2);
    state.temperature[0] = 64;
    state.window[1] = 8; // 8 rounds accessed
    const h = createHistograms();
    closeWindow(state, h);
    assert.equal(state.temperature[0], 32);
    assert.equal(state.temperature[1], 16);
    assert.equal(h.all[32], 1);
    assert.equal(h.all[16], 1);
  });

  it('counts movable pages by tier, leaving out pages moved lately', () => {
    const state = new PageState(4);
    bitmapFill(state.scan, 4);
    bitmapSet(state.nvm, 0);
    bitmapSet(state.nvm, 1);
    bitmapSet(state.movedNow, 1);
    bitmapSet(state.movedBefore, 2);
    const h = createHistograms();
    closeWindow(state, h);
    assert.equal(h.nvmPages, 2);
    assert.equal(h.movableNvm[0], 1);
    assert.equal(h.movableDram[0], 1);
    assert.equal(h.dram[0], 2);
  });
});
