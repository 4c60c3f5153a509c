import assert from 'node:assert/strict';
import { hotSetCut } from '../../plugin/engine/hot-set.js';
import { bruteForceHotTemperatures, markHotSet, rng } from './reference.js';

function histogramOf(temps: Uint8Array): Uint32Array {
  const h = new Uint32Array(256);
  for (const t of temps) h[t]!++;
  return h;
}

describe('engine/hot-set (bucket sort)', () => {
  it('matches a brute-force sort on random temperatures and quotas', () => {
    const random = rng(42);
    for (let trial = 0; trial < 300; trial++) {
      const pages = 1 + Math.floor(random() * 400);
      const spread = 1 + Math.floor(random() * 255); // few distinct values -> many ties
      const temps = new Uint8Array(pages);
      for (let i = 0; i < pages; i++) temps[i] = random() < 0.3 ? 0 : Math.floor(random() * spread);
      const quota = Math.floor(random() * (pages + 10));
      const cut = hotSetCut(histogramOf(temps), quota);
      const hot = new Uint8Array(pages);
      markHotSet(temps, cut, hot);
      const chosen = Array.from(temps).filter((_, i) => hot[i] === 1).sort((a, b) => b - a);
      const expected = bruteForceHotTemperatures(temps, quota);
      assert.deepEqual(chosen, expected, `trial ${trial}: pages=${pages} quota=${quota}`);
      assert.equal(cut.size, expected.length);
    }
  });

  it('never puts a page with temperature 0 in the hot set', () => {
    const temps = new Uint8Array([0, 0, 5, 0]);
    const cut = hotSetCut(histogramOf(temps), 4);
    assert.equal(cut.size, 1);
    const hot = new Uint8Array(4);
    markHotSet(temps, cut, hot);
    assert.deepEqual(Array.from(hot), [0, 0, 1, 0]);
  });

  it('gives an empty hot set for a zero quota', () => {
    const temps = new Uint8Array([9, 9, 9]);
    const cut = hotSetCut(histogramOf(temps), 0);
    assert.equal(cut.size, 0);
    const hot = new Uint8Array(3);
    markHotSet(temps, cut, hot);
    assert.deepEqual(Array.from(hot), [0, 0, 0]);
  });
});
