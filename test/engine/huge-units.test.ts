/**
 * Huge-page units in the engine: the bit steps against per-page references,
 * the plan rules as properties on random plans, and the whole engine against a
 * host that holds it to the contract (a unit is named once, by its first page,
 * and moves whole; a brute-force model of where every page is).
 */
import assert from 'node:assert/strict';
import { TemperatureHistograms } from '../../plugin/engine/histograms.js';
import { HugeUnits, HugeUnitTracking, UNIT_PAGES } from '../../plugin/engine/huge-units.js';
import { Tracker } from '../../plugin/engine/tracker.js';
import { closeWindow, createWindowStats } from '../../plugin/engine/window-close.js';
import { MIGRATION_BATCH_PAGES } from '../../plugin/engine/migrator.js';
import { PageState } from '../../plugin/engine/page-state.js';
import { defaultEngineOptions, startEngine, type EngineSnapshot } from '../../plugin/engine/run.js';
import type { DirtyLogDrain, GuestRamRegion, MemoryHost, MigrationResult, TierUsage } from '../../plugin/host/memory-host.js';
import { MigrationOutcome, Tier } from '../../plugin/host/memory-host.js';
import { bitmapFill, bitmapGet, bitmapSet, createBitmap, type Bitmap } from '../../plugin/util/bitmap.js';
import { rng, steppingClock } from './reference.js';

/** Random disjoint units at any offset (not word aligned) in `pageCount` pages. */
function randomUnits(random: () => number, pageCount: number): Uint32Array {
  const heads: number[] = [];
  for (let p = Math.floor(random() * 40); p + UNIT_PAGES <= pageCount; ) {
    if (random() < 0.6) {
      heads.push(p);
      p += UNIT_PAGES;
    }
    p += Math.floor(random() * 100);
  }
  return Uint32Array.from(heads);
}

const unitPagesOf = (heads: Uint32Array, k: number) => Array.from({ length: UNIT_PAGES }, (_, j) => heads[k]! + j);
const unitOfRef = (heads: Uint32Array, page: number) => heads.findIndex((u) => page >= u && page < u + UNIT_PAGES);

describe('engine/huge-units', () => {
  it('rejects a host report with units out of order, overlapping or past guest RAM', () => {
    assert.throws(() => new HugeUnits(Uint32Array.of(0, 100), 2000), /units at pages 0 and 100 overlap or are out of order/);
    assert.throws(() => new HugeUnits(Uint32Array.of(600, 0), 2000), /overlap or are out of order/);
    assert.throws(() => new HugeUnits(Uint32Array.of(1600), 2000), /unit at page 1600 runs past guest RAM \(2000 pages\)/);
    assert.equal(new HugeUnits(Uint32Array.of(0, 512, 1488), 2000).count, 3);
  });

  it('spread, alignScan and unitOf match per-page references at unaligned offsets', () => {
    const random = rng(21);
    for (let trial = 0; trial < 60; trial++) {
      const n = 600 + Math.floor(random() * 5000);
      const heads = randomUnits(random, n);
      const units = new HugeUnits(heads, n);
      const bits = createBitmap(n);
      for (let i = 0; i < n; i++) if (random() < 0.002) bitmapSet(bits, i);
      const before = Array.from({ length: n }, (_, i) => bitmapGet(bits, i));
      const spread = bits.slice();
      units.spread(spread);
      const aligned = bits.slice();
      units.alignScan(aligned);
      for (let i = 0; i < n; i++) {
        const k = unitOfRef(heads, i);
        assert.equal(units.unitOf(i), k, `unitOf ${i}`);
        const any = k >= 0 && before.slice(heads[k]!, heads[k]! + UNIT_PAGES).some(Boolean);
        assert.equal(bitmapGet(spread, i), k >= 0 ? any : before[i], `spread ${i}`);
        assert.equal(bitmapGet(aligned, i), k >= 0 ? before[heads[k]!] : before[i], `align ${i}`);
      }
      assert.equal(spread.length, bits.length);
    }
  });

  it('adopt gives a new unit its hottest page temperature, keeps histograms true and joins anti-thrash bits; old units are left alone', () => {
    const n = 3000;
    const state = new PageState(n);
    const random = rng(4);
    for (let i = 0; i < n; i++) {
      state.temperature[i] = Math.floor(random() * 5) * (random() < 0.3 ? 1 : 0);
      if (state.temperature[i]! > 0) bitmapSet(state.warm, i);
      if (i >= 1000) bitmapSet(state.nvm, i);
    }
    state.markMoved(1400);
    const hist = new TemperatureHistograms();
    hist.recount(state);
    const old = new HugeUnits(Uint32Array.of(100), n);
    const untouched = state.temperature.slice(100, 100 + UNIT_PAGES);
    state.temperature[800] = 9; // page inside the new unit at 700
    const nowUnits = new HugeUnits(Uint32Array.of(100, 700, 1300), n);
    hist.recount(state);
    nowUnits.adopt(state, hist, old);
    assert.deepEqual(state.temperature.slice(100, 100 + UNIT_PAGES), untouched);
    assert.ok(state.temperature.slice(700, 700 + UNIT_PAGES).every((t) => t === 9));
    const top = Math.max(...state.temperature.slice(1300, 1300 + UNIT_PAGES));
    assert.ok(state.temperature.slice(1300, 1300 + UNIT_PAGES).every((t) => t === top));
    for (let p = 1300; p < 1300 + UNIT_PAGES; p++) assert.ok(bitmapGet(state.blocked, p), 'whole unit not movable');
    state.rotateMoved();
    state.rotateMoved();
    assert.ok(state.blocked.every((w) => w === 0), 'and it ages out like a moved page');
    const check = new TemperatureHistograms();
    check.recount(state);
    assert.deepEqual([Array.from(hist.dram), Array.from(hist.nvm)], [Array.from(check.dram), Array.from(check.nvm)]);
  });

  it('wholePlan takes units whole (also those named in part), puts them first and together, and never lets promotions outgrow demotions plus free DRAM', () => {
    const random = rng(8);
    for (let trial = 0; trial < 300; trial++) {
      const n = 2000 + Math.floor(random() * 4000);
      const heads = randomUnits(random, n);
      const units = new HugeUnits(heads, n);
      const temperature = Uint8Array.from({ length: n }, () => Math.floor(random() * 6));
      for (const u of heads) temperature.fill(temperature[u]!, u, u + UNIT_PAGES);
      const pick = (p: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const k = unitOfRef(heads, i);
          // whole units, cut units (a prefix), and single pages
          if (k >= 0 ? (heads[k]! * 7 + Math.floor(p * 10)) % 3 === 0 && i - heads[k]! < (heads[k]! % 5 === 0 ? 300 : UNIT_PAGES) : random() < p) out.push(i);
        }
        return out;
      };
      const promote = pick(0.2);
      const demote = pick(0.1).filter((x) => !promote.includes(x));
      const free = Math.floor(random() * 1500) - 500;
      const plan = units.wholePlan({ promote: Uint32Array.from(promote), demote: Uint32Array.from(demote) }, temperature, free);
      for (const [name, list, input] of [['promote', plan.promote, promote], ['demote', plan.demote, demote]] as const) {
        const inputSet = new Set(input);
        let i = 0;
        let seenSingle = false;
        while (i < list.length) {
          const k = unitOfRef(heads, list[i]!);
          if (k < 0) {
            seenSingle = true;
            assert.ok(inputSet.has(list[i]!), `${name}: single ${list[i]} came from the plan`);
            i++;
            continue;
          }
          assert.ok(!seenSingle, `${name}: units come before single pages`);
          for (let j = 0; j < UNIT_PAGES; j++) assert.equal(list[i + j], heads[k]! + j, `${name}: unit ${heads[k]} whole and in order`);
          let named = false;
          for (let j = 0; j < UNIT_PAGES; j++) named ||= inputSet.has(heads[k]! + j);
          assert.ok(named, `${name}: unit ${heads[k]} was named in the plan`);
          i += UNIT_PAGES;
        }
      }
      // Every unit the demote input names (in part or whole) is demoted whole.
      const namedIn = (input: number[]) => Array.from(heads).filter((u) => input.some((x) => x >= u && x < u + UNIT_PAGES));
      assert.deepEqual(Array.from(heads).filter((u) => plan.demote.includes(u)), namedIn(demote));
      // Promotions fit; what was dropped is never hotter than what was kept, and dropping was needed.
      const allowed = Math.max(0, plan.demote.length + free);
      assert.ok(plan.promote.length <= allowed, `promote ${plan.promote.length} > ${allowed}`);
      const keptPromote = new Set(plan.promote);
      const candidates: { page: number; weight: number }[] = [...namedIn(promote).map((u) => ({ page: u, weight: UNIT_PAGES })), ...promote.filter((x) => unitOfRef(heads, x) < 0).map((x) => ({ page: x, weight: 1 }))];
      const dropped = candidates.filter((c) => !keptPromote.has(c.page));
      const kept = candidates.filter((c) => keptPromote.has(c.page));
      for (const d of dropped) {
        assert.ok(plan.promote.length + d.weight > allowed, `dropped ${d.page} would have fitted`);
        // A colder item is kept over a hotter dropped one only when it is smaller (it fitted where the other did not).
        for (const k of kept) if (temperature[k.page]! < temperature[d.page]!) assert.ok(k.weight < d.weight, `kept ${k.page} (t ${temperature[k.page]}) over hotter ${d.page}`);
      }
    }
  });

  it('a migrator batch holds whole units (batch size is a multiple of the unit)', () => {
    assert.equal(MIGRATION_BATCH_PAGES % UNIT_PAGES, 0);
  });
});

/**
 * A memory host that holds the engine to the huge-page contract: a unit must
 * be named by its first page only, once per call, and moves whole. Pages in
 * `hot` are accessed every round (a hot unit: all its pages). Where every page
 * is, is a plain array (the brute-force model).
 */
class UnitContractHost implements MemoryHost {
  readonly kind = 'unit-contract';
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 1;
  readonly tier: Uint8Array;
  hot: Set<number>;
  pagesMoved = 0;
  unitMoves = 0;
  readonly violations: string[] = [];
  dramHighWater = 0;

  constructor(
    readonly pageCount: number,
    readonly heads: Uint32Array,
    hot: Iterable<number>,
  ) {
    this.tier = new Uint8Array(pageCount);
    this.hot = new Set(hot);
  }

  regions(): readonly GuestRamRegion[] {
    return [{ name: 'ram', firstPage: 0, pageCount: this.pageCount }];
  }

  hugePageUnits(): Promise<Uint32Array> {
    return Promise.resolve(this.heads.slice());
  }

  readTierMap(out: Bitmap): Promise<void> {
    out.fill(0);
    for (let i = 0; i < this.pageCount; i++) if (this.tier[i]) bitmapSet(out, i);
    return Promise.resolve();
  }

  testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    let n = 0;
    for (let i = 0; i < this.pageCount; i++) {
      if (!bitmapGet(scan, i)) continue;
      n++;
      // A unit has one accessed bit: report it on one page only, the engine must spread it.
      const k = unitOfRef(this.heads, i);
      if (this.hot.has(i) && (k < 0 || i === this.heads[k]! + 7)) bitmapSet(accessed, i);
    }
    return Promise.resolve(n);
  }

  testAndClearDirty(scan: Bitmap): Promise<number> {
    let n = 0;
    for (let i = 0; i < this.pageCount; i++) if (bitmapGet(scan, i)) n++;
    return Promise.resolve(n);
  }

  drainDirtyLog(): Promise<DirtyLogDrain> {
    return Promise.resolve({ pages: new Uint32Array(0), count: 0, overflowed: false, bufferFullExits: 0 });
  }

  migrate(pages: Uint32Array, target: Tier): Promise<MigrationResult> {
    const outcome = new Uint8Array(pages.length);
    const named = new Set<number>();
    let moved = 0;
    for (let e = 0; e < pages.length; e++) {
      const p = pages[e]!;
      const k = unitOfRef(this.heads, p);
      if (k >= 0 && p !== this.heads[k]) this.violations.push(`page ${p} of the unit at ${this.heads[k]} named (not its first page)`);
      if (k >= 0 && named.has(k)) this.violations.push(`unit at ${this.heads[k]} named twice in one call`);
      if (k >= 0) named.add(k);
      const span = k >= 0 && p === this.heads[k] ? UNIT_PAGES : 1;
      if (this.tier[p] === target) {
        outcome[e] = MigrationOutcome.AlreadyThere;
        continue;
      }
      this.tier.fill(target, p, p + span);
      outcome[e] = MigrationOutcome.Moved;
      moved += span;
      if (span > 1) this.unitMoves++;
    }
    this.pagesMoved += moved;
    for (const u of this.heads) if (!this.tier.subarray(u, u + UNIT_PAGES).every((t) => t === this.tier[u])) this.violations.push(`unit at ${u} split`);
    return Promise.resolve({ outcome, failures: [], moved, busy: 0, failed: 0, bytesCopied: moved * 4096, recopies: 0, pauseNs: 0, maxPauseNs: 0 });
  }

  dramPages(): number {
    return this.tier.reduce((n, t) => n + (t === 0 ? 1 : 0), 0);
  }

  tierUsage(): Promise<readonly TierUsage[]> {
    const dram = this.dramPages();
    return Promise.resolve([
      { tier: Tier.DRAM, name: 'dram', capacityPages: this.pageCount, usedPages: dram, vmPages: dram },
      { tier: Tier.NVM, name: 'nvm', capacityPages: this.pageCount, usedPages: this.pageCount - dram, vmPages: this.pageCount - dram },
    ]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('engine with huge-page units (a host that enforces the contract)', () => {
  it('keeps every unit at one temperature through scan rounds and windows (evidence on one page of it, levels and phases differing)', async () => {
    const n = 700 + 6 * UNIT_PAGES + 77;
    const heads = Uint32Array.from({ length: 6 }, (_, k) => 700 + k * UNIT_PAGES);
    const host = new UnitContractHost(n, heads, []);
    const tracking = new HugeUnitTracking(host);
    const state = new PageState(n);
    const hist = new TemperatureHistograms();
    const tracker = new Tracker(tracking.host, state);
    await tracking.refresh();
    bitmapFill(state.scan, n);
    hist.recount(state);
    tracking.afterWindowClose(state, hist);
    const random = rng(13);
    for (let w = 0; w < 60; w++) {
      // Some units stay hot for long (they climb levels), some flicker.
      host.hot = new Set([...unitPagesOf(heads, 0), ...(w % 3 === 0 ? unitPagesOf(heads, 1) : []), ...(random() < 0.5 ? unitPagesOf(heads, 2 + Math.floor(random() * 4)) : []), 5, 9, 700 - 1]);
      for (let r = 0; r < 4; r++) await tracker.scanRound();
      closeWindow(state, hist, createWindowStats());
      tracking.afterWindowClose(state, hist);
      for (const u of heads) {
        const t = state.temperature.subarray(u, u + UNIT_PAGES);
        assert.ok(t.every((x) => x === t[0]), `window ${w}: unit at ${u} has temperatures ${[...new Set(t)].join(',')}`);
      }
    }
    assert.ok(state.temperature[heads[0]!]! > 0 && state.levelOf(heads[0]!) > 1, 'the always-hot unit is warm and climbed the queue');
  });

  // 700 single pages, then 8 units from page 700 (not word aligned), then 300 single pages.
  const SINGLES_BEFORE = 700;
  const heads = Uint32Array.from({ length: 8 }, (_, k) => SINGLES_BEFORE + k * UNIT_PAGES);
  const pageCount = SINGLES_BEFORE + 8 * UNIT_PAGES + 300;
  const unitPages = (k: number) => Array.from({ length: UNIT_PAGES }, (_, j) => heads[k]! + j);
  const hotSingles = Array.from({ length: 200 }, (_, i) => 100 + i * 3);

  async function run(host: UnitContractHost, quota: number, windows: number, onWindow?: (s: EngineSnapshot, w: number) => void) {
    const stop = new AbortController();
    const snaps: EngineSnapshot[] = [];
    const engine = startEngine(host, steppingClock(), {
      ...defaultEngineOptions(quota),
      tierRefreshWindows: 4,
      onWindow: (s) => {
        snaps.push(s);
        const dram = host.dramPages();
        host.dramHighWater = Math.max(host.dramHighWater, snaps.length > 3 ? dram : 0);
        onWindow?.(s, snaps.length);
        if (snaps.length >= windows) stop.abort(new Error('enough windows'));
      },
    }, stop.signal);
    const totals = await engine.done;
    return { totals, snaps };
  }

  it('moves whole units named once, counts 512 pages per unit, keeps DRAM within the quota, and ends with hot units and pages in DRAM', async () => {
    const hotUnits = [0, 2, 5];
    const host = new UnitContractHost(pageCount, heads, [...hotUnits.flatMap(unitPages), ...hotSingles]);
    const quota = hotUnits.length * UNIT_PAGES + hotSingles.length + 100;
    let dramAfterShrink = Infinity;
    const { totals } = await run(host, quota, 24, (_s, w) => {
      const dram = host.dramPages();
      if (w > 2) assert.ok(dram <= Math.max(quota, dramAfterShrink), `window ${w}: DRAM ${dram} grew past the quota ${quota}`);
      dramAfterShrink = Math.min(dramAfterShrink, dram);
    });
    assert.deepEqual(host.violations, []);
    for (let k = 0; k < 8; k++) {
      const where = host.tier[heads[k]!];
      assert.equal(where, hotUnits.includes(k) ? Tier.DRAM : Tier.NVM, `unit ${k} ${hotUnits.includes(k) ? 'hot' : 'cold'}`);
    }
    assert.ok(hotSingles.every((p) => host.tier[p] === Tier.DRAM), 'hot single pages in DRAM');
    const dram = host.dramPages();
    assert.ok(dram <= quota && dram >= quota - UNIT_PAGES, `DRAM ${dram} within a unit of the quota ${quota}`);
    assert.equal(totals.promoted + totals.demoted, host.pagesMoved, 'the engine counts the pages the host moved');
    assert.ok(host.unitMoves >= 5, `cold units demoted whole (${host.unitMoves} unit moves)`);
    assert.equal(totals.failed + totals.busy, 0);
  });

  it('does not stall when the free DRAM is less than a unit (a swap of half a unit becomes a whole one)', async () => {
    // Everything hot starts in NVM; DRAM holds cold units and has room for 256 pages: less than a unit.
    const host = new UnitContractHost(pageCount, heads, [...[0, 1].flatMap(unitPages)]);
    for (const k of [0, 1]) host.tier.fill(Tier.NVM, heads[k]!, heads[k]! + UNIT_PAGES);
    for (let p = 0; p < SINGLES_BEFORE; p++) host.tier[p] = Tier.NVM;
    for (let p = heads[7]! + UNIT_PAGES; p < pageCount; p++) host.tier[p] = Tier.NVM;
    const quota = host.dramPages() + 256;
    await run(host, quota, 20);
    assert.deepEqual(host.violations, []);
    assert.deepEqual([host.tier[heads[0]!], host.tier[heads[1]!]], [Tier.DRAM, Tier.DRAM], 'both hot units promoted');
    assert.ok(host.dramPages() <= quota);
  });

  it('swaps units when the hot set moves, whole, and the new hot units end in DRAM', async () => {
    const host = new UnitContractHost(pageCount, heads, [...[0, 1].flatMap(unitPages), ...hotSingles]);
    const quota = 2 * UNIT_PAGES + hotSingles.length + 50;
    await run(host, quota, 16);
    assert.deepEqual([host.tier[heads[0]!], host.tier[heads[1]!], host.tier[heads[6]!]], [Tier.DRAM, Tier.DRAM, Tier.NVM]);
    host.hot = new Set([...[6, 7].flatMap(unitPages), ...hotSingles]);
    const movedBefore = host.pagesMoved;
    const { totals } = await run(host, quota, 30);
    assert.deepEqual(host.violations, []);
    assert.deepEqual([0, 1, 6, 7].map((k) => host.tier[heads[k]!]), [Tier.NVM, Tier.NVM, Tier.DRAM, Tier.DRAM]);
    assert.ok(host.dramPages() <= quota);
    assert.equal(totals.promoted + totals.demoted, host.pagesMoved - movedBefore);
  });
});
