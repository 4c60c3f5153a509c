import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TemperatureHistograms } from '../../plugin/engine/histograms.js';
import { PageState } from '../../plugin/engine/page-state.js';
import { nextTemperature } from '../../plugin/engine/temperature.js';
import { Tracker } from '../../plugin/engine/tracker.js';
import { closeWindow, createWindowStats } from '../../plugin/engine/window-close.js';
import { bitmapCount, bitmapFill, bitmapGet, bitmapSet } from '../../plugin/util/bitmap.js';
import { ReferenceEngine, rng } from './reference.js';
import { ScriptedHost } from './scripted-host.js';

/**
 * PageState.everyWritten (pages seen and logged in every round so far, their
 * write count implicit) against the per-page reference: every page's rounds
 * written and accessed after every round, and temperatures, levels and the
 * scan set after every window. Writers are mostly steady (the case the
 * bitmap is for) with rounds they skip, pages leave the sieve (a few a
 * round, or half of them: everyWritten then gives way, backs off for a
 * few windows and is tried again), logs overflow
 * now and then, evidence is set from outside between windows, and busy
 * windows push the counts dense (everyWritten written out) and back.
 */

interface Script {
  pageCount: number;
  seed: number;
  /** Share of pages accessed in a round (1: all), of accessed pages that write, and the chance a writer skips a round's write. */
  hot: number;
  /** Chance a hot page is accessed in a round (a cold one: 0.05). */
  rate: number;
  writers: number;
  skip: number;
  overflow: number;
  windows: number;
}

async function runScript(s: Script): Promise<Set<string>> {
  const random = rng(s.seed);
  const { pageCount } = s;
  const state = new PageState(pageCount);
  const ref = new ReferenceEngine(pageCount, nextTemperature);
  const host = new ScriptedHost(pageCount);
  bitmapFill(state.scan, pageCount);
  const hist = new TemperatureHistograms();
  hist.recount(state);
  const tracker = new Tracker(host, state);
  const hotPage = Array.from({ length: pageCount }, () => random() < s.hot);
  const writer = Array.from({ length: pageCount }, () => random() < s.writers);
  const pending = new Set<number>();
  const forms = new Set<string>();
  for (let w = 0; w < s.windows; w++) {
    // Busy windows (every page written) push the counts dense, if the VM is large enough to start sparse.
    const busy = w % 4 === 2;
    // Now and then a window of evidence set from outside, without rounds (as tests and references do).
    const outside = w % 3 === 1;
    if (outside) {
      for (let p = 0; p < pageCount; p++) {
        if (!ref.scan[p] || random() >= 0.3) continue;
        const reads = Math.floor(random() * 16);
        const writes = Math.floor(random() * 16);
        state.setEvidence(p, reads, writes);
        ref.reads[p] = reads;
        ref.writes[p] = writes;
      }
    }
    const rounds = outside ? 0 : 1 + Math.floor(random() * 18);
    for (let r = 0; r < rounds; r++) {
      const written: number[] = [];
      for (let p = 0; p < pageCount; p++) {
        // A hot page is accessed in most rounds; a cold one seldom.
        const accessed = random() < (hotPage[p] ? s.rate : 0.05);
        if (!accessed) continue;
        pending.add(p);
        bitmapSet(host.accessedBits, p);
        if ((writer[p] || busy) && random() >= s.skip) written.push(p);
      }
      // Log order is the guest's, not page order.
      for (let i = written.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [written[i], written[j]] = [written[j]!, written[i]!];
      }
      host.log = written;
      host.overflowed = random() < s.overflow;
      const harvested = [...pending].filter((p) => ref.harvesting(p));
      for (const p of harvested) pending.delete(p);
      await tracker.scanRound();
      ref.round(harvested, written);
      if (host.overflowed) host.dirtyBits.fill(0);
      forms.add(state.writes.dense !== undefined ? 'dense' : state.everyWrittenLive ? 'implicit' : 'sparse');
      // Between rounds the scratch bitmap is all zero (the next harvest ORs into it; the tracker borrows it within a round).
      assert.equal(bitmapCount(state.scratch), 0, `window ${w} round ${r}: scratch left non-zero`);
      for (let p = 0; p < pageCount; p++) {
        assert.equal(state.roundsWritten(p), ref.writes[p], `window ${w} round ${r}: page ${p} rounds written`);
        assert.equal(state.roundsAccessed(p), ref.reads[p], `window ${w} round ${r}: page ${p} rounds accessed`);
      }
    }
    closeWindow(state, hist, createWindowStats(), { hotRounds: 2, holdFrom: 10, holdTo: 14 });
    ref.closeWindow(2, 10, 14);
    for (let p = 0; p < pageCount; p++) {
      assert.equal(state.temperature[p], ref.temperature[p], `window ${w}: page ${p} temperature`);
      assert.equal(state.levelOf(p), ref.level[p], `window ${w}: page ${p} level`);
      assert.equal(bitmapGet(state.scan, p), ref.scan[p], `window ${w}: page ${p} due`);
    }
    const fresh = new TemperatureHistograms();
    fresh.recount(state);
    assert.deepEqual(hist.dram, fresh.dram, `window ${w}: DRAM histogram`);
    assert.deepEqual(hist.nvm, fresh.nvm, `window ${w}: NVM histogram`);
  }
  return forms;
}

describe('engine/every-written (implicit write counts) against a per-page reference', () => {
  it('agrees on random scripts (page counts around word edges, steady and skipping writers, overflows, dense and back)', async () => {
    const forms = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pageCount: fc.constantFrom(1, 31, 32, 33, 95, 700, 1029, 3000),
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          hot: fc.constantFrom(0, 0.2, 0.7, 1),
          rate: fc.constantFrom(1, 0.9, 0.5, 0.3),
          writers: fc.constantFrom(0, 0.1, 0.5, 1),
          skip: fc.constantFrom(0, 0, 0.05, 0.5),
          overflow: fc.constantFrom(0, 0, 0.05),
          windows: fc.integer({ min: 1, max: 6 }),
        }),
        async (s) => {
          for (const f of await runScript(s)) forms.add(f);
        },
      ),
      { numRuns: 200 },
    );
    assert.ok(forms.has('implicit') && forms.has('dense'), `forms seen: ${[...forms].join(', ')}`);
  });

  for (const [name, s] of [
    ['every page accessed and written in every round (full)', { hot: 1, rate: 1, writers: 1, skip: 0, overflow: 0 }],
    ['nothing written (empty logs)', { hot: 0.7, rate: 1, writers: 0, skip: 0, overflow: 0 }],
    ['hardly anything accessed', { hot: 0, rate: 1, writers: 1, skip: 0, overflow: 0 }],
    ['hot pages accessed in a third of the rounds (most of everyWritten leaves each round: its counts go to the table)', { hot: 0.7, rate: 0.3, writers: 0.5, skip: 0, overflow: 0 }],
    ['writers that skip rounds they were seen in (pages leave everyWritten still in the sieve)', { hot: 0.7, rate: 0.9, writers: 0.5, skip: 0.05, overflow: 0 }],
  ] as const) {
    it(`agrees with ${name}, 1 to 3000 pages`, async () => {
      for (const pageCount of [1, 31, 32, 33, 1000, 3000]) await runScript({ pageCount, seed: pageCount, windows: 5, ...s });
    });
  }

  it('agrees over enough windows for everyWritten to back off and be tried again (24 windows, hot pages accessed in a third of the rounds)', async () => {
    const forms = new Set<string>();
    // Few writers in a large enough VM: the counts stay sparse (else dense counts leave everyWritten out anyway).
    for (const pageCount of [20000, 33000]) {
      for (let seed = 1; seed <= 2; seed++) {
        for (const f of await runScript({ pageCount, seed: seed * pageCount, hot: 0.7, rate: 0.3, writers: 0.01, skip: 0, overflow: 0, windows: 24 })) forms.add(f);
      }
    }
    assert.ok(forms.has('implicit') && forms.has('sparse'), `forms seen: ${[...forms].join(', ')}`);
  });
});
