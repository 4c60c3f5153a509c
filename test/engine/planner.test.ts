import assert from 'node:assert/strict';
import { collectPlan, planCounts, type PlanCounts } from '../../plugin/engine/planner.js';
import { PageState } from '../../plugin/engine/page-state.js';
import { bitmapSet } from '../../plugin/util/bitmap.js';
import { rng } from './reference.js';

interface Case {
  temps: Uint8Array;
  inNvm: boolean[];
  movable: boolean[];
  quota: number;
  budget: number;
  hysteresis: number;
}

/** collectPlan's rule page by page: in page order, the movable warm NVM pages above the promotion cut
 * (and the first promoteAtCut at it), the movable DRAM pages below the demotion cut (and the first demoteAtCut at it). */
function collectByPage(state: PageState, counts: PlanCounts): { promote: number[]; demote: number[] } {
  const promote: number[] = [];
  const demote: number[] = [];
  let promotedAtCut = 0;
  let demotedAtCut = 0;
  for (let i = 0; i < state.pageCount; i++) {
    const has = (map: Uint32Array) => (map[i >>> 5]! & (1 << (i & 31))) !== 0;
    if (has(state.blocked)) continue;
    const t = state.temperature[i]!;
    if (has(state.nvm)) {
      if (has(state.warm) && promote.length < counts.promote && (t > counts.promoteCut || (t === counts.promoteCut && promotedAtCut++ < counts.promoteAtCut))) promote.push(i);
    } else if (demote.length < counts.demote && (t < counts.demoteCut || (t === counts.demoteCut && demotedAtCut++ < counts.demoteAtCut))) {
      demote.push(i);
    }
  }
  return { promote, demote };
}

/** The planner's rules applied by comparison sort: returns the temperatures promoted and demoted. */
function reference(c: Case): { promote: number[]; demote: number[] } {
  const idx = [...c.temps.keys()];
  const nvm = idx.filter((i) => c.inNvm[i] && c.movable[i] && c.temps[i]! >= 1).map((i) => c.temps[i]!).sort((a, b) => b - a);
  const dram = idx.filter((i) => !c.inNvm[i] && c.movable[i]).map((i) => c.temps[i]!).sort((a, b) => a - b);
  let budget = c.budget;
  let free = c.quota - idx.filter((i) => !c.inNvm[i]).length;
  const promote: number[] = [];
  const demote: number[] = [];
  while (free < 0 && budget > 0 && dram.length > 0) { demote.push(dram.shift()!); free++; budget--; }
  while (free > 0 && budget > 0 && nvm.length > 0) { promote.push(nvm.shift()!); free--; budget--; }
  while (budget >= 2 && nvm.length > 0 && dram.length > 0 && nvm[0]! > dram[0]! + c.hysteresis) {
    promote.push(nvm.shift()!); demote.push(dram.shift()!); budget -= 2;
  }
  return { promote: promote.sort((a, b) => a - b), demote: demote.sort((a, b) => a - b) };
}

function run(c: Case) {
  const n = c.temps.length;
  const state = new PageState(n);
  state.temperature.set(c.temps);
  c.temps.forEach((t, i) => t > 0 && bitmapSet(state.warm, i));
  const movableNvm = new Uint32Array(256);
  const movableDram = new Uint32Array(256);
  let dramPages = 0;
  for (let i = 0; i < n; i++) {
    if (c.inNvm[i]) bitmapSet(state.nvm, i); else dramPages++;
    if (!c.movable[i]) bitmapSet(state.blocked, i);
    else if (c.inNvm[i]) movableNvm[c.temps[i]!]!++;
    else movableDram[c.temps[i]!]!++;
  }
  const counts = planCounts({ movableNvm, movableDram, dramPages, quotaPages: c.quota, budgetPages: c.budget, hysteresis: c.hysteresis, minPromoteTemperature: 1 });
  const plan = collectPlan(state, counts);
  return { plan, dramPages };
}

describe('engine/planner', () => {
  it('matches a brute-force application of its rules on random cases', () => {
    const random = rng(7);
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(random() * 300);
      const spread = 1 + Math.floor(random() * 64);
      const c: Case = {
        temps: Uint8Array.from({ length: n }, () => Math.floor(random() * spread)),
        inNvm: Array.from({ length: n }, () => random() < 0.6),
        movable: Array.from({ length: n }, () => random() < 0.85),
        quota: Math.floor(random() * n * 1.2),
        budget: Math.floor(random() * n),
        hysteresis: Math.floor(random() * 6),
      };
      const { plan } = run(c);
      const got = {
        promote: Array.from(plan.promote, (i) => c.temps[i]!).sort((a, b) => a - b),
        demote: Array.from(plan.demote, (i) => c.temps[i]!).sort((a, b) => a - b),
      };
      assert.deepEqual(got, reference(c), `trial ${trial}`);
      for (const i of plan.promote) assert.ok(c.inNvm[i] && c.movable[i], `promoted page ${i} must be a movable NVM page`);
      for (const i of plan.demote) assert.ok(!c.inNvm[i] && c.movable[i], `demoted page ${i} must be a movable DRAM page`);
      assert.ok(plan.promote.length + plan.demote.length <= c.budget, 'plan within the rate budget');
    }
  });

  it('demotes first when the quota shrinks, coldest first', () => {
    const c: Case = { temps: Uint8Array.from([50, 3, 9, 1, 70]), inNvm: [false, false, false, false, true], movable: [true, true, true, true, true], quota: 2, budget: 100, hysteresis: 4 };
    const { plan } = run(c);
    // Over quota by 2: pages 3 (temperature 1) and 1 (3) go; then DRAM is full and the
    // NVM page at 70 swaps with the coldest remaining DRAM page (page 2, at 9).
    assert.deepEqual(Array.from(plan.demote), [1, 2, 3]);
    assert.deepEqual(Array.from(plan.promote), [4]);
  });

  it('does not move a page that moved in this or the last window (anti-thrash)', () => {
    const c: Case = { temps: Uint8Array.from([90, 0]), inNvm: [true, false], movable: [false, true], quota: 1, budget: 10, hysteresis: 0 };
    const { plan } = run(c);
    assert.equal(plan.promote.length, 0);
    assert.equal(plan.demote.length, 0);
  });

  it('collects the very pages a per-page pass collects, in page order, for any cuts and temperatures up to 255', () => {
    const random = rng(11);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 3000);
      const state = new PageState(n);
      for (let i = 0; i < n; i++) {
        const t = random() < 0.4 ? 0 : Math.floor(random() * (random() < 0.2 ? 256 : 130));
        state.temperature[i] = t;
        if (t > 0) bitmapSet(state.warm, i);
        if (random() < 0.6) bitmapSet(state.nvm, i);
        if (random() < 0.05) bitmapSet(state.blocked, i);
      }
      const counts = {
        promote: Math.floor(random() * n), demote: Math.floor(random() * n),
        promoteCut: Math.floor(random() * 257), promoteAtCut: Math.floor(random() * 40),
        demoteCut: Math.floor(random() * 257) - 1, demoteAtCut: Math.floor(random() * 40),
      };
      const plan = collectPlan(state, counts);
      const { promote, demote } = collectByPage(state, counts);
      assert.deepEqual(Array.from(plan.promote), promote, `trial ${trial}: promoted pages`);
      assert.deepEqual(Array.from(plan.demote), demote, `trial ${trial}: demoted pages`);
    }
  });

  it('collects the pages a per-page pass collects when most pages sit at the cuts and few of them may be taken', () => {
    // The cut's bucket is most of the pages: once its share is taken the pass filters one past the cut.
    const random = rng(12);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 4000);
      const state = new PageState(n);
      const cut = Math.floor(random() * 256);
      for (let i = 0; i < n; i++) {
        const r = random();
        const t = Math.max(0, Math.min(255, r < 0.8 ? cut : r < 0.9 ? cut + 1 : cut - 1));
        state.temperature[i] = t;
        if (t > 0) bitmapSet(state.warm, i);
        if (random() < 0.5) bitmapSet(state.nvm, i);
        if (random() < 0.05) bitmapSet(state.blocked, i);
      }
      const counts = {
        promote: Math.floor(random() * n), demote: Math.floor(random() * n),
        promoteCut: cut, promoteAtCut: Math.floor(random() * 5), demoteCut: cut, demoteAtCut: Math.floor(random() * 5),
      };
      const plan = collectPlan(state, counts);
      const { promote, demote } = collectByPage(state, counts);
      assert.deepEqual(Array.from(plan.promote), promote, `trial ${trial}: promoted pages`);
      assert.deepEqual(Array.from(plan.demote), demote, `trial ${trial}: demoted pages`);
    }
  });

  it('keeps near-equal pages where they are (hysteresis)', () => {
    const c: Case = { temps: Uint8Array.from([12, 10]), inNvm: [true, false], movable: [true, true], quota: 1, budget: 10, hysteresis: 4 };
    assert.equal(run(c).plan.promote.length, 0);
    c.temps[0] = 15;
    assert.deepEqual(Array.from(run(c).plan.promote), [0]);
  });
});
