import assert from 'node:assert/strict';
import { baselineSeconds, baselineSettled } from './baseline-window.js';

describe('e2e-host: how long the numa_balancing=2 baseline is watched', () => {
  const o = { floorS: 120, capS: 300, holdSamples: 3 };

  it('at least as long as the slowest hmmv domain took, within the floor and the cap', () => {
    assert.equal(baselineSeconds([56.7, 33], o), 120);
    assert.equal(baselineSeconds([190.5, 180.7], o), 191);
    assert.equal(baselineSeconds([500, 10], o), 300);
    assert.equal(baselineSeconds([56, undefined], o), 300, 'a domain hmmv did not converge: the longest watch');
    assert.equal(baselineSeconds([], o), 120);
  });

  it('settles only when every hot region held 99% on DRAM for the last samples', () => {
    const full = { hotOnDram: 2048 };
    const half = { hotOnDram: 1024 };
    assert.equal(baselineSettled([[full, full, full], [half, full, full, full]], [2048, 2048], o), true);
    assert.equal(baselineSettled([[full, full, full], [full, half, full]], [2048, 2048], o), false);
    assert.equal(baselineSettled([[full, full], [full, full, full]], [2048, 2048], o), false, 'too few samples');
    assert.equal(baselineSettled([[{ hotOnDram: 2028 }, { hotOnDram: 2030 }, full]], [2048], o), true, '99% is enough');
  });
});
