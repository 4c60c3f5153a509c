import assert from 'node:assert/strict';
import { defaultStreamOptions, findHotRuns, StreamDetector, streamAt } from '../../plugin/engine/stream.js';
import { bitmapSet, createBitmap } from '../../plugin/util/bitmap.js';
import { rng } from './reference.js';

/** A hot bitmap with pages [start, start + length) hot (wrapping at n), each with probability `density`. */
function hotRun(n: number, start: number, length: number, density = 1, seed = 1) {
  const map = createBitmap(n);
  const random = rng(seed);
  for (let i = 0; i < length; i++) if (random() < density) bitmapSet(map, (start + i) % n);
  return map;
}

const word = (map: Uint32Array) => (w: number): number => map[w]!;

describe('engine/stream (moving hot windows)', () => {
  it('finds dense runs, bridging one sparse word, ignoring short and sparse ones, longest first', () => {
    const n = 4096;
    const map = hotRun(n, 100, 600, 0.9);
    // A sparse stretch of 1/8 density is not a run; a 64-page run is too short.
    for (let p = 1500; p < 2500; p += 8) bitmapSet(map, p);
    for (let p = 3000; p < 3064; p++) bitmapSet(map, p);
    // One empty word inside the first run is bridged.
    map[(100 + 320) >>> 5] = 0;
    const runs = findHotRuns((w) => map[w]!, n, defaultStreamOptions);
    assert.equal(runs.length, 1);
    assert.ok(runs[0]!.start >= 100 && runs[0]!.start < 110 && runs[0]!.end > 690 && runs[0]!.end <= 700, JSON.stringify(runs));
    const wrapped = hotRun(n, 3808, 800);
    const two = findHotRuns((w) => wrapped[w]!, n, defaultStreamOptions);
    assert.deepEqual(two, [{ start: 3808, end: 4608 }], 'a run over the end of memory is one run');
  });

  it('detects a run moving at a steady speed after two windows, with its velocity, and follows it through the end of memory', () => {
    const n = 32768;
    const d = new StreamDetector(n);
    const windowNs = 80e6;
    const speed = 50 / 1e6; // pages per ns
    let start = 20000;
    for (let w = 0; w < 12; w++) {
      const map = hotRun(n, start % n, 2500, 0.95, w);
      d.observe((i) => map[i]!, w * windowNs);
      if (w === 0) assert.equal(d.streams.length, 0, 'one window shows no motion');
      else {
        assert.equal(d.streams.length, 1, `window ${w}: ${JSON.stringify(d.streams)}`);
        const s = d.streams[0]!;
        assert.ok(Math.abs(s.velocity / speed - 1) < 0.1, `velocity ${s.velocity * 1e6} pages/ms`);
        const { front } = streamAt(s, w * windowNs);
        assert.ok(Math.abs((((front % n) + n) % n) - ((start + 2500) % n)) < 150, `front ${front} vs ${(start + 2500) % n}`);
      }
      start += speed * windowNs;
    }
    assert.ok(d.streams[0]!.confirmations >= 10);
  });

  it('does not take a still hot run, a run that vanishes or a run that jumps far for a stream', () => {
    const n = 32768;
    const still = new StreamDetector(n);
    for (let w = 0; w < 5; w++) still.observe(word(hotRun(n, 1000, 3000, 0.95, w)), w * 80e6);
    assert.equal(still.streams.length, 0, 'a stationary hot set is the planner\'s');
    const gone = new StreamDetector(n);
    gone.observe(word(hotRun(n, 1000, 3000)), 0);
    gone.observe(word(hotRun(n, 5000, 3000)), 80e6);
    assert.equal(gone.streams.length, 1);
    gone.observe(word(createBitmap(n)), 160e6);
    assert.equal(gone.streams.length, 0, 'lost when the run is gone');
    const jump = new StreamDetector(n);
    jump.observe(word(hotRun(n, 1000, 3000)), 0);
    jump.observe(word(hotRun(n, 5000, 3000)), 80e6);
    jump.observe(word(hotRun(n, 20000, 3000)), 160e6);
    assert.ok(jump.streams.every((s) => Math.abs(s.velocity * 80e6 - 4000) < 400), JSON.stringify(jump.streams));
    assert.ok(!jump.streams.some((s) => s.confirmations > 0), 'a jump does not confirm the stream');
  });
});
