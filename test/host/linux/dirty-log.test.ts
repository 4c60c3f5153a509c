/** The soft-dirty log emulation over pending bits, against a per-page reference. */
import assert from 'node:assert/strict';
import { drainPending, takeScannedDirty } from '../../../plugin/host/linux/dirty-log.js';
import { bitmapGet, bitmapSet, createBitmap } from '../../../plugin/util/bitmap.js';
import { rng } from '../../engine/reference.js';

describe('linux host: emulated dirty log', () => {
  it('testAndClearDirty hands out and clears only the scanned pages\' pending bits', () => {
    const random = rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(random() * 300);
      const pending = createBitmap(n);
      const scan = createBitmap(n + 64);
      const dirty = createBitmap(n);
      const was: boolean[] = [];
      for (let i = 0; i < n; i++) {
        if (random() < 0.4) bitmapSet(pending, i);
        if (random() < 0.5) bitmapSet(scan, i);
        if (random() < 0.1) bitmapSet(dirty, i);
        was.push(bitmapGet(pending, i));
      }
      const dirtyBefore = Array.from({ length: n }, (_, i) => bitmapGet(dirty, i));
      const count = takeScannedDirty(pending, scan, dirty, n);
      let scanned = 0;
      for (let i = 0; i < n; i++) {
        const s = bitmapGet(scan, i);
        if (s) scanned++;
        assert.equal(bitmapGet(dirty, i), dirtyBefore[i] || (s && was[i]), `dirty ${i}`);
        assert.equal(bitmapGet(pending, i), was[i] && !s, `pending ${i}`);
      }
      assert.equal(count, scanned);
    }
  });

  it('drains every pending page in page order, or overflows and keeps them when over capacity', () => {
    const n = 1000;
    const pending = createBitmap(n);
    const pages = [3, 31, 32, 33, 500, 999];
    for (const p of pages) bitmapSet(pending, p);
    const over = drainPending(pending, 5);
    assert.deepEqual([over.overflowed, over.count, over.bufferFullExits], [true, 0, 0]);
    for (const p of pages) assert.ok(bitmapGet(pending, p), 'kept for the full scan');
    const drain = drainPending(pending, 6);
    assert.deepEqual([drain.overflowed, drain.count, Array.from(drain.pages)], [false, 6, pages]);
    assert.ok(pending.every((w) => w === 0));
  });
});
