import assert from 'node:assert/strict';
import { TemperatureHistograms } from '../../plugin/engine/histograms.js';
import { COUNTER_BITS, PageState, sliceAt } from '../../plugin/engine/page-state.js';
import { nextTemperature } from '../../plugin/engine/temperature.js';
import { addLoggedPages, Tracker } from '../../plugin/engine/tracker.js';
import { closeWindow, createWindowStats, levelCounts } from '../../plugin/engine/window-close.js';
import { bitmapCount, bitmapFill, bitmapGet, bitmapSet, createBitmap } from '../../plugin/util/bitmap.js';
import { ReferenceEngine, rng } from './reference.js';
import { ScriptedHost } from './scripted-host.js';

function sample(random: () => number, n: number, p: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (random() < p) out.push(i);
  return out;
}

/** The engine's state and the reference side by side: `nvmShare` of the pages on NVM, every page due. */
function startBoth(random: () => number, pageCount: number, nvmShare: number) {
  const state = new PageState(pageCount);
  const ref = new ReferenceEngine(pageCount, nextTemperature);
  const host = new ScriptedHost(pageCount);
  for (const p of sample(random, pageCount, nvmShare)) {
    bitmapSet(state.nvm, p);
    ref.nvm[p] = true;
  }
  bitmapFill(state.scan, pageCount);
  const hist = new TemperatureHistograms();
  hist.recount(state);
  return { state, ref, host, hist, tracker: new Tracker(host, state) };
}

// Pages must be seen in 3 rounds to climb a queue level, and not land at temperature 12..20 (the engine's own kind of rule).
const HOT_ROUNDS = 3;

describe('engine state against a per-page reference', () => {
  for (const pageCount of [1, 31, 64, 333, 1000, 20_000]) {
    it(`tracker rounds, window close, anti-thrash lists and histograms agree with it (${pageCount} pages)`, async () => {
      const random = rng(pageCount);
      const { state, ref, host, hist, tracker } = startBoth(random, pageCount, 0.4);
      // Pages with the guest's accessed bit set and not yet harvested (a skipped page keeps it).
      const pendingAccess = new Set<number>();
      // Write counts in both forms (write-counts.ts): dense in the busy phase, sparse in the quiet ones.
      const forms = new Set<string>();
      for (let w = 0; w < 70; w++) {
        // Phases: everything hot, a shifting hot set, then a cold spell.
        const hotness = w < 20 ? 0.7 : w < 50 ? 0.25 : 0.03;
        const rounds = 1 + Math.floor(random() * 20);
        for (let r = 0; r < rounds; r++) {
          for (const p of sample(random, pageCount, hotness)) {
            pendingAccess.add(p);
            bitmapSet(host.accessedBits, p);
          }
          const written = sample(random, pageCount, hotness / 3);
          host.log = written;
          host.overflowed = random() < 0.1;
          const extraDirty = host.overflowed ? sample(random, pageCount, 0.05) : [];
          for (const p of extraDirty) bitmapSet(host.dirtyBits, p);
          const harvested = [...pendingAccess].filter((p) => ref.harvesting(p));
          for (const p of harvested) pendingAccess.delete(p);
          const expectScanned = ref.harvestCount();
          const stats = await tracker.scanRound();
          assert.equal(stats.pagesScanned, expectScanned, `window ${w} round ${r}: pages scanned`);
          ref.round(harvested, [...written, ...extraDirty]);
          if (host.overflowed) host.dirtyBits.fill(0);
        }
        forms.add(state.writes.dense !== undefined ? 'dense' : 'sparse');
        for (let p = 0; p < pageCount; p++) {
          assert.equal(state.roundsAccessed(p), ref.reads[p], `window ${w}: page ${p} rounds accessed`);
          assert.equal(state.roundsWritten(p), ref.writes[p], `window ${w}: page ${p} rounds written`);
        }
        const out = createWindowStats();
        closeWindow(state, hist, out, { hotRounds: HOT_ROUNDS, holdFrom: 12, holdTo: 20 });
        ref.closeWindow(HOT_ROUNDS, 12, 20);
        const expected = ref.histograms();
        assert.deepEqual(Array.from(out.all), expected.all, `window ${w}: histogram`);
        assert.deepEqual(Array.from(out.dram), expected.dram, `window ${w}: DRAM histogram`);
        assert.deepEqual(Array.from(out.movableNvm), expected.movableNvm, `window ${w}: movable NVM pages`);
        assert.deepEqual(Array.from(out.movableDram), expected.movableDram, `window ${w}: movable DRAM pages`);
        assert.equal(out.nvmPages, ref.nvm.filter(Boolean).length);
        assert.equal(bitmapCount(state.scan), ref.scan.filter(Boolean).length);
        const levels = levelCounts(state);
        for (let l = 0; l <= 4; l++) assert.equal(levels[l], ref.level.filter((x) => x === l).length, `window ${w}: pages at level ${l}`);
        for (let p = 0; p < pageCount; p++) {
          assert.equal(state.temperature[p], ref.temperature[p], `window ${w}: page ${p} temperature`);
          assert.equal(state.levelOf(p), ref.level[p], `window ${w}: page ${p} level`);
          assert.equal(bitmapGet(state.scan, p), ref.scan[p], `window ${w}: page ${p} due`);
          assert.equal(bitmapGet(state.warm, p), ref.temperature[p]! > 0, `window ${w}: page ${p} warm`);
          assert.ok(!state.hasEvidence(p), `window ${w}: page ${p} evidence folded`);
          assert.equal(bitmapGet(state.blocked, p), ref.movedNow.has(p) || ref.movedBefore.has(p), `window ${w}: page ${p} blocked`);
        }
        // As the engine does after its plan: rotate, then the migrator marks what it moved.
        state.rotateMoved();
        ref.rotateMoved();
        assert.ok(state.scratch.every((x) => x === 0), 'scratch is left clear');
        for (const p of sample(random, pageCount, 0.05)) {
          if (ref.movedBefore.has(p)) continue; // the plan never picks a blocked page
          state.markMoved(p);
          ref.markMoved(p);
        }
      }
      if (pageCount >= 20_000) assert.deepEqual([...forms].sort(), ['dense', 'sparse'], 'write counts were both dense and sparse');
    });
  }

  // The window pass's paths for evidence without explicit counts: hot pages seen in every round (the sieve never
  // loses one), written ones logged in every round (everyWritten), words whose due pages are all cold at level 0,
  // and hot sets that move, so warm pages cool to 0 with no evidence.
  for (const pageCount of [1, 63, 2048, 40_000]) {
    it(`agrees with it when pages are seen in every round or not at all (${pageCount} pages)`, async () => {
      const random = rng(7 * pageCount + 1);
      const { state, ref, host, hist, tracker } = startBoth(random, pageCount, 0.5);
      let hot: number[] = [];
      let written: number[] = [];
      // Accessed bits not harvested yet (a page left alone keeps its bit until it is due).
      const pending = new Set<number>();
      let implicitWindows = 0;
      for (let w = 0; w < 40; w++) {
        if (w % 13 === 0) {
          // A new hot set, clustered or scattered, a few of its pages written.
          const clustered = random() < 0.5;
          const start = Math.floor(random() * pageCount);
          hot = clustered ? sample(random, pageCount, 1).filter((p) => (p - start + pageCount) % pageCount < pageCount / 5) : sample(random, pageCount, 0.2);
          written = hot.filter(() => random() < 0.1);
        }
        const rounds = 1 + Math.floor(random() * 9);
        for (let r = 0; r < rounds; r++) {
          for (const p of hot) {
            pending.add(p);
            bitmapSet(host.accessedBits, p);
          }
          host.log = written;
          host.overflowed = false;
          const harvested = [...pending].filter((p) => ref.harvesting(p));
          for (const p of harvested) pending.delete(p);
          await tracker.scanRound();
          ref.round(harvested, written);
        }
        if (!state.explicitReads) implicitWindows++;
        const out = createWindowStats();
        const holdFrom = w % 3 === 0 ? -256 : 20 + Math.floor(random() * 20);
        closeWindow(state, hist, out, { hotRounds: HOT_ROUNDS, holdFrom, holdTo: holdFrom + 8 });
        ref.closeWindow(HOT_ROUNDS, holdFrom, holdFrom + 8);
        const expected = ref.histograms();
        assert.deepEqual(Array.from(out.all), expected.all, `window ${w}: histogram`);
        assert.deepEqual(Array.from(out.movableNvm), expected.movableNvm, `window ${w}: movable NVM pages`);
        for (let p = 0; p < pageCount; p++) {
          assert.equal(state.temperature[p], ref.temperature[p], `window ${w}: page ${p} temperature`);
          assert.equal(state.levelOf(p), ref.level[p], `window ${w}: page ${p} level`);
          assert.equal(bitmapGet(state.scan, p), ref.scan[p], `window ${w}: page ${p} due`);
          assert.equal(bitmapGet(state.warm, p), ref.temperature[p]! > 0, `window ${w}: page ${p} warm`);
        }
        state.rotateMoved();
        ref.rotateMoved();
      }
      // Many windows lose no page from the sieve (a page harvested late, from a hot set that moved on, leaves it).
      assert.ok(implicitWindows >= 10, `${implicitWindows} of 40 windows without explicit counts`);
    });
  }

  it('counts a logged write only for pages this round saw, saturating at 15, ignoring entries past guest RAM', () => {
    const planes = new Uint32Array(2 * COUNTER_BITS);
    const seen = createBitmap(64);
    for (const p of [5, 40, 63]) bitmapSet(seen, p);
    for (let r = 0; r < 20; r++) addLoggedPages(Uint32Array.from([5, 6, 40, 63, 64, 9999]), r < 3 ? 6 : 1, seen, planes, 64);
    assert.equal(sliceAt(planes, COUNTER_BITS, 5), 15);
    assert.equal(sliceAt(planes, COUNTER_BITS, 6), 0, 'a page the round did not see gathers no write');
    assert.equal(sliceAt(planes, COUNTER_BITS, 40), 3);
    assert.equal(sliceAt(planes, COUNTER_BITS, 63), 3);
  });

  it('holds at most 3 bytes per page (24 bits) before anything moved, exactly 3 with dense write counts', () => {
    const state = new PageState(1 << 16);
    const sparse = state.bytesPerPage();
    assert.ok(sparse < 3, `sparse write counts: ${sparse} bytes per page`);
    for (let p = 0; p < 1 << 16; p += 2) state.writes.increment(p);
    assert.ok(state.writes.dense !== undefined, 'a window writing half the pages makes the counts dense');
    assert.equal(state.bytesPerPage(), 3);
  });
});
