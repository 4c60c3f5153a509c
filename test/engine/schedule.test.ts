import assert from 'node:assert/strict';
import { expectedRoundsSurvived, geometricSchedule, rateForRounds } from '../../plugin/engine/schedule.js';

/** The window's own rounds (the schedule may list extra ones after them). */
const windowRounds = (s: { intervalsNs: Float64Array; rounds: number }): Float64Array => s.intervalsNs.subarray(0, s.rounds);
const sum = (xs: Float64Array): number => xs.reduce((a, b) => a + b, 0);

describe('engine/schedule (geometric rounds, the sieve count)', () => {
  it('spaces rounds geometrically, longest first, summing to the window', () => {
    const s = geometricSchedule(8, 80e6, 2, 0);
    const intervalsNs = windowRounds(s);
    assert.ok(Math.abs(sum(intervalsNs) - 80e6) < 1);
    for (let i = 1; i < 8; i++) assert.ok(Math.abs(intervalsNs[i - 1]! / intervalsNs[i]! - 2) < 1e-6, `ratio at ${i}`);
    assert.ok(Math.abs(intervalsNs[0]! - 40.16e6) < 0.01e6, `first round ${intervalsNs[0]}`);
    // Extra rounds (used while too many pages survive) keep halving, up to 15 rounds in all.
    assert.equal(s.intervalsNs.length, 15);
    assert.ok(Math.abs(s.intervalsNs[8]! * 2 - intervalsNs[7]!) < 1e-6);
    assert.equal(geometricSchedule(8, 80e6, 2, 50e3).intervalsNs.length, 10, 'extra rounds stop at the minimum interval');
  });

  it('keeps every round at least the minimum, flattening the ratio, and falls back to equal rounds', () => {
    const intervalsNs = windowRounds(geometricSchedule(8, 80e6, 2, 1e6));
    assert.ok(Math.abs(sum(intervalsNs) - 80e6) < 1);
    for (const d of intervalsNs) assert.ok(d >= 1e6 - 1e-6, `interval ${d}`);
    assert.equal(intervalsNs[7], 1e6);
    assert.deepEqual([...geometricSchedule(4, 4e6, 2, 2e6).intervalsNs], [1e6, 1e6, 1e6, 1e6]);
    assert.deepEqual([...geometricSchedule(4, 40e6, 1, 0).intervalsNs], [10e6, 10e6, 10e6, 10e6]);
  });

  it('rejects nonsense with a message naming the parameter', () => {
    assert.throws(() => geometricSchedule(0, 1e6, 2, 0), /rounds per window/);
    assert.throws(() => geometricSchedule(8, 0, 2, 0), /window must be positive/);
    assert.throws(() => geometricSchedule(8, 1e6, 0.5, 0), /ratio must be >= 1/);
    assert.throws(() => geometricSchedule(8, 1e6, 2, -1), /minimum round interval/);
  });

  it('counts more rounds for hotter pages: about one more per doubling of the rate', () => {
    const s = geometricSchedule(8, 80e6, 2, 0);
    let last = 0;
    for (const rate of [10, 30, 100, 300, 1000, 3000, 10000]) {
      const k = expectedRoundsSurvived(s, rate);
      assert.ok(k > last, `rate ${rate}: ${k} rounds`);
      last = k;
    }
    const slope = expectedRoundsSurvived(s, 800) - expectedRoundsSurvived(s, 400);
    assert.ok(slope > 0.7 && slope < 1.3, `one doubling adds ${slope} rounds`);
    assert.ok(expectedRoundsSurvived(s, 40) < 2 && expectedRoundsSurvived(s, 3600) > 6.5);
  });

  it('inverts the expected count into a rate', () => {
    const s = geometricSchedule(8, 80e6, 2, 0);
    assert.equal(rateForRounds(s, 0), 0);
    for (const rate of [20, 200, 2000]) {
      const back = rateForRounds(s, expectedRoundsSurvived(s, rate));
      assert.ok(Math.abs(back / rate - 1) < 1e-3, `${rate} -> ${back}`);
    }
  });
});
