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

/** Runs by a pass over every word: dense words (at least minHotPerWord hot pages), one sparse word bridged. */
function bruteForceRuns(map: Uint32Array, n: number, o: typeof defaultStreamOptions) {
  const words = (n + 31) >>> 5;
  const dense = (w: number) => {
    let c = 0;
    for (let b = 0; b < 32; b++) if ((map[w]! >>> b) & 1) c++;
    return c >= o.minHotPerWord;
  };
  const runs: { start: number; end: number }[] = [];
  let w = 0;
  while (w < words) {
    if (!dense(w)) { w++; continue; }
    let hi = w;
    while ((hi + 1 < words && dense(hi + 1)) || (hi + 2 < words && dense(hi + 2))) hi += hi + 1 < words && dense(hi + 1) ? 1 : 2;
    let start = w << 5;
    while (!((map[start >>> 5]! >>> (start & 31)) & 1)) start++;
    let end = Math.min(n, (hi + 1) << 5);
    while (!((map[(end - 1) >>> 5]! >>> ((end - 1) & 31)) & 1)) end--;
    if (end - start >= o.minRunPages) runs.push({ start, end });
    w = hi + 2;
  }
  const first = runs[0];
  const last = runs[runs.length - 1];
  if (runs.length >= 2 && first!.start < 32 && last!.end > n - 32) {
    runs.pop();
    runs[0] = { start: last!.start, end: first!.end + n };
  }
  return runs.sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, o.maxStreams);
}

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

  it('finds the same runs as a pass over every word (brute-force reference)', () => {
    const random = rng(9);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1000 + Math.floor(random() * 6000);
      const map = createBitmap(n);
      for (let k = 0; k < 1 + Math.floor(random() * 6); k++) {
        const start = Math.floor(random() * n);
        const length = Math.floor(random() * 1200);
        const density = 0.5 + random() * 0.5;
        for (let i = 0; i < length && start + i < n; i++) if (random() < density) bitmapSet(map, start + i);
      }
      const options = { ...defaultStreamOptions, maxStreams: 100 };
      const got = findHotRuns((w) => map[w]!, n, options);
      const want = bruteForceRuns(map, n, options);
      assert.deepEqual(got, want, `trial ${trial}`);
    }
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
