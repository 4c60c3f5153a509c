import assert from 'node:assert/strict';
import { geometricSchedule } from '../../plugin/engine/schedule.js';
import { periodicRate, streamValue, VALUED_WINDOWS } from '../../plugin/engine/stream-value.js';
import { PageState } from '../../plugin/engine/page-state.js';
import type { Stream } from '../../plugin/engine/stream.js';
import { benefitCurveFromHistogram, curveTotal } from '../../plugin/pool/curve.js';

const stream = (back: number, front: number): Stream => ({ front, back, atNs: 0, velocity: 1e-6, confirmations: 3, aheadTo: front, behindTo: back, valuedPages: [] });

describe('engine/stream-value (what DRAM is worth to a followed stream)', () => {
  const schedule = geometricSchedule(8, 200e6, 2, 1e6);
  const d = schedule.intervalsNs;

  it('reads a periodic toucher: survived every round -> at least 1 / the last round; else between the last survived round and the next', () => {
    assert.equal(periodicRate(schedule, 8, 8), 1e9 / d[7]!);
    for (let k = 1; k < 8; k++) {
      const r = periodicRate(schedule, k, 8);
      const [lo, hi] = [1e9 / Math.max(d[k - 1]!, d[k]!), 1e9 / Math.min(d[k - 1]!, d[k]!)];
      assert.ok(r >= lo - 1e-9 && r <= hi + 1e-9, `rounds ${k}: ${r} not in [${lo}, ${hi}]`);
    }
    assert.equal(periodicRate(schedule, 0, 8), 0);
  });

  it('counts the follower pages and the warm trail by temperature once each, and the curve replaces them with the stream value', () => {
    const n = 4096;
    const state = new PageState(n);
    // the trail behind the margin: warm pages, then a gap of cold ones ends it
    for (let p = 900; p < 1000; p++) state.temperature[p] = 5;
    for (let p = 1000; p < 1600; p++) state.temperature[p] = 9; // margin + body + lead
    const out = new Uint32Array(256);
    const s = stream(1100, 1500);
    const v = streamValue(state, s, 0, 1000, 100, 100, out);
    assert.equal(v.pages, 600);
    assert.equal(v.leadPages, 100);
    assert.ok(Math.abs(v.ratePerPage - (1000 * 400) / 600) < 1e-9);
    // brute force: the 600 follower pages at 9, the 100 trail pages at 5, nothing else
    assert.equal(out[9], 600);
    assert.equal(out[5], 100);
    assert.equal(out.reduce((a, b) => a + b, 0), 700);

    const histogram = new Uint32Array(256);
    for (let p = 0; p < n; p++) histogram[state.temperature[p]!]!++;
    const rates = Array.from({ length: 256 }, (_, t) => t);
    const curve = benefitCurveFromHistogram({ histogram, accessRatePerPage: rates, reservedPages: 100, streams: [v], streamHistogram: out });
    // every page once: the stream's 600 at its rate, the trail gone, the lead not counted again as reserved
    assert.equal(curve.reduce((a, [p]) => a + p, 0), 600);
    assert.ok(Math.abs(curveTotal(curve) - 600 * v.ratePerPage) < 1e-6);
  });

  it('values the most pages of the last windows (the measured extent jitters)', () => {
    const state = new PageState(4096);
    const s = stream(1000, 1400);
    const sizes: number[] = [];
    for (const [back, front] of [[1000, 1400], [1000, 1300], [1000, 1350], [1000, 1320], [1000, 1310]] as const) {
      s.back = back;
      s.front = front;
      sizes.push(streamValue(state, s, 0, 1000, 0, 0, new Uint32Array(256)).pages);
    }
    assert.deepEqual(sizes.slice(0, VALUED_WINDOWS), [400, 400, 400, 400]);
    assert.equal(sizes[VALUED_WINDOWS], 350, 'the 400-page window has left the last four');
  });
});
