/**
 * Huge-page units: guest RAM a host backs with 2 MiB pages is planned as
 * units of UNIT_PAGES (512) pages, never split. The engine keeps its per-page
 * state (so quota, budget and histograms count 512 pages per unit as they
 * stand) and keeps every unit's pages in lockstep:
 *
 *   evidence   a unit is accessed/written when any page of it is (spread);
 *   scan set   a unit's pages are due when its first page is (alignScan), so
 *              all of them are scanned, aged and levelled together;
 *   new units  (the host reports them at start and at each tier-map refresh)
 *              take their hottest page's temperature and the union of their
 *              pages' anti-thrash bits (adopt);
 *   plans      name whole units only: the planner counts pages, so its cut
 *              (or the budget) may fall inside a unit; such a unit is taken
 *              whole (a demotion then frees a little more DRAM than planned,
 *              at most one unit more per window and direction), and
 *              promotions are trimmed, coldest first, so DRAM never grows
 *              past the quota (wholePlan). Leaving part-taken units out
 *              instead can stall: free room for half a unit plus a swap of
 *              half a unit is a whole promotion with no whole demotion. Each
 *              unit's pages come first and together: one migrator batch is
 *              one unit;
 *   moves      name each unit once, by its first page (view().migrate); the
 *              host moves the whole huge page and reports it for all 512.
 *
 * With the same evidence, scan set and starting temperature, the window pass
 * gives every page of a unit the same temperature, so "its temperature is the
 * unit's" holds without the window pass knowing about units.
 *
 * Cost, U units: O(U) word operations per round (spread) and per window
 * (alignScan, 17 words per unit), O(U x 512) per refresh (adopt), O(plan) per
 * plan (wholePlan), O(log U) per dirty-log entry and migrated entry (view).
 * Hosts without units (the simulator) pay nothing: the engine makes none.
 */
import type { DirtyLogDrain, MemoryHost, MigrationResult } from '../host/memory-host.js';
import { MigrationOutcome, UNIT_PAGES } from '../host/memory-host.js';
import type { Bitmap } from '../util/bitmap.js';
import type { TemperatureHistograms } from './histograms.js';
import type { PageState } from './page-state.js';
import type { MigrationPlan } from './planner.js';

export { UNIT_PAGES };

// ---- bit ranges of UNIT_PAGES bits at any offset (a unit spans 16 or 17 words) ----

function rangeAny(bits: Bitmap, first: number): boolean {
  const last = first + UNIT_PAGES - 1;
  const w0 = first >>> 5;
  const w1 = last >>> 5;
  const head = -1 << (first & 31);
  const tail = (last & 31) === 31 ? -1 : (1 << ((last & 31) + 1)) - 1;
  if ((bits[w0]! & head) !== 0 || (bits[w1]! & tail) !== 0) return true;
  for (let w = w0 + 1; w < w1; w++) if (bits[w] !== 0) return true;
  return false;
}

function rangeFill(bits: Bitmap, first: number, on: boolean): void {
  const last = first + UNIT_PAGES - 1;
  const w0 = first >>> 5;
  const w1 = last >>> 5;
  const head = -1 << (first & 31);
  const tail = (last & 31) === 31 ? -1 : (1 << ((last & 31) + 1)) - 1;
  if (on) {
    bits[w0] = bits[w0]! | head;
    for (let w = w0 + 1; w < w1; w++) bits[w] = 0xffffffff;
    bits[w1] = bits[w1]! | tail;
  } else {
    bits[w0] = bits[w0]! & ~head;
    for (let w = w0 + 1; w < w1; w++) bits[w] = 0;
    bits[w1] = bits[w1]! & ~tail;
  }
}

export class HugeUnits {
  /** First page of each unit, ascending, units disjoint and inside guest RAM. */
  readonly heads: Uint32Array;

  /** Checks the host's report: the error says what is wrong with it. */
  constructor(heads: Uint32Array, readonly pageCount: number) {
    for (let k = 0; k < heads.length; k++) {
      const u = heads[k]!;
      if (u + UNIT_PAGES > pageCount) throw new RangeError(`huge-page unit at page ${u} runs past guest RAM (${pageCount} pages)`);
      if (k > 0 && u < heads[k - 1]! + UNIT_PAGES) throw new RangeError(`huge-page units at pages ${heads[k - 1]} and ${u} overlap or are out of order`);
    }
    this.heads = heads;
  }

  get count(): number {
    return this.heads.length;
  }

  /** Index of the unit holding `page`, or -1 (binary search). */
  unitOf(page: number): number {
    const h = this.heads;
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (h[mid]! <= page) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && page < h[lo - 1]! + UNIT_PAGES ? lo - 1 : -1;
  }

  /** A unit with any bit set gets all its bits set (in place). */
  spread(bits: Bitmap): void {
    for (const u of this.heads) if (rangeAny(bits, u)) rangeFill(bits, u, true);
  }

  /** Every unit's pages take its first page's bit (in place). */
  alignScan(scan: Bitmap): void {
    for (const u of this.heads) rangeFill(scan, u, (scan[u >>> 5]! & (1 << (u & 31))) !== 0);
  }

  /**
   * Makes units that were not units in `previous` uniform: every page gets
   * the unit's hottest temperature (histograms adjusted), and the unit is
   * not movable while any of its pages is not.
   */
  adopt(state: PageState, hist: TemperatureHistograms, previous?: HugeUnits): void {
    const { temperature, warm, nvm } = state;
    for (const u of this.heads) {
      const k = previous ? previous.unitOf(u) : -1;
      if (k >= 0 && previous!.heads[k] === u) continue;
      let hottest = 0;
      for (let p = u; p < u + UNIT_PAGES; p++) if (temperature[p]! > hottest) hottest = temperature[p]!;
      for (let p = u; p < u + UNIT_PAGES; p++) {
        const t = temperature[p]!;
        if (t === hottest) continue;
        hist.retemper((nvm[p >>> 5]! & (1 << (p & 31))) !== 0, t, hottest);
        temperature[p] = hottest;
      }
      if (hottest > 0) {
        rangeFill(warm, u, true);
        state.markActive(u, UNIT_PAGES);
      }
      // Not movable while any page of it is: block the rest too (listed as moved now, so it ages out).
      if (rangeAny(state.blocked, u)) for (let p = u; p < u + UNIT_PAGES; p++) if ((state.blocked[p >>> 5]! & (1 << (p & 31))) === 0) state.markMoved(p);
    }
  }

  /**
   * The plan with whole units only, units first (each unit's pages together,
   * in page order), then single pages. Both lists come in page order (as
   * collectPlan makes them). A unit the plan names in part is taken whole.
   * Promotions are then cut, coldest first, until they fit in what the
   * demotions free plus `freePages` (quota - DRAM in use), so DRAM never grows
   * past the quota.
   */
  wholePlan(plan: MigrationPlan, temperature: Uint8Array, freePages: number): MigrationPlan {
    const demote = this.whole(plan.demote);
    const promote = this.whole(plan.promote);
    const allowed = Math.max(0, demote.pages + freePages);
    if (promote.pages > allowed) this.trimColdest(promote, temperature, promote.pages - allowed);
    return { promote: flatten(promote), demote: flatten(demote) };
  }

  private whole(list: Uint32Array): Split {
    const units: number[] = [];
    const singles: number[] = [];
    for (let i = 0; i < list.length; ) {
      const page = list[i]!;
      const k = this.unitOf(page);
      if (k < 0) {
        singles.push(page);
        i++;
        continue;
      }
      const head = this.heads[k]!;
      let j = i;
      while (j < list.length && list[j]! < head + UNIT_PAGES) j++;
      units.push(head); // named in part or whole: moved whole
      i = j;
    }
    return { units, singles, pages: units.length * UNIT_PAGES + singles.length };
  }

  /**
   * Drops promotions worth at least `excess` pages, coldest first (within a
   * temperature: single pages before units, last in page order first), then
   * puts back, hottest first, what still fits in the room left (a unit dropped
   * last may have freed more than needed).
   */
  private trimColdest(split: Split, temperature: Uint8Array, excess: number): void {
    const byTemp: Item[][] = Array.from({ length: 256 }, () => []);
    for (const u of split.units) byTemp[temperature[u]!]!.push({ page: u, weight: UNIT_PAGES });
    for (const p of split.singles) byTemp[temperature[p]!]!.push({ page: p, weight: 1 });
    const dropped: Item[] = [];
    for (let t = 0; t < 256 && excess > 0; t++) {
      const bucket = byTemp[t]!.sort((a, b) => a.weight - b.weight || b.page - a.page);
      for (const item of bucket) {
        if (excess <= 0) break;
        dropped.push(item);
        excess -= item.weight;
      }
    }
    let room = -excess;
    const out = new Set<number>();
    for (let i = dropped.length - 1; i >= 0; i--) {
      const item = dropped[i]!;
      if (item.weight <= room) room -= item.weight;
      else out.add(item.page);
    }
    split.units = split.units.filter((u) => !out.has(u));
    split.singles = split.singles.filter((p) => !out.has(p));
    split.pages = split.units.length * UNIT_PAGES + split.singles.length;
  }

  /**
   * The host as the engine uses it with units: evidence spread over units,
   * the dirty log widened to whole units, and migrate naming each unit once
   * (by its first page) with its outcome given to all its entries.
   */
  view(host: MemoryHost): MemoryHost {
    return new UnitView(host, { current: this });
  }
}

/**
 * The engine's hook, made only for a host that can report units: the host
 * view the tracker and migrator use, the unit list (re-read with the tier
 * map), and the per-window steps.
 */
export class HugeUnitTracking {
  current: HugeUnits;
  private previous: HugeUnits | undefined;
  private fresh = false;
  /** What the tracker and the migrator talk to. */
  readonly host: MemoryHost;

  constructor(private readonly inner: MemoryHost & Required<Pick<MemoryHost, 'hugePageUnits'>>) {
    this.current = new HugeUnits(new Uint32Array(0), inner.pageCount);
    this.host = new UnitView(inner, this);
  }

  /** Asks the host for its units now (call only while no migration runs). */
  async refresh(): Promise<void> {
    this.previous = this.current;
    this.current = new HugeUnits(await this.inner.hugePageUnits(), this.inner.pageCount);
    this.fresh = true;
  }

  /** After a window's evidence is folded (evidence counters clear): adopt new units, align the scan set. */
  afterWindowClose(state: PageState, hist: TemperatureHistograms): void {
    if (this.fresh) {
      this.current.adopt(state, hist, this.previous);
      this.fresh = false;
      this.previous = undefined;
    }
    this.current.alignScan(state.scan);
  }

  wholePlan(plan: MigrationPlan, temperature: Uint8Array, freePages: number): MigrationPlan {
    return this.current.count === 0 ? plan : this.current.wholePlan(plan, temperature, freePages);
  }
}

interface Item {
  readonly page: number;
  readonly weight: number;
}

interface Split {
  units: number[];
  singles: number[];
  pages: number;
}

function flatten(split: Split): Uint32Array {
  const out = new Uint32Array(split.pages);
  let k = 0;
  for (const u of split.units) for (let p = u; p < u + UNIT_PAGES; p++) out[k++] = p;
  for (const p of split.singles) out[k++] = p;
  return out;
}

class UnitView implements MemoryHost {
  readonly kind: string;
  readonly pageSizeBytes: number;
  readonly pageCount: number;
  readonly vcpuCount: number;

  constructor(
    private readonly host: MemoryHost,
    private readonly holder: { readonly current: HugeUnits },
  ) {
    this.kind = host.kind;
    this.pageSizeBytes = host.pageSizeBytes;
    this.pageCount = host.pageCount;
    this.vcpuCount = host.vcpuCount;
  }

  private get units(): HugeUnits {
    return this.holder.current;
  }

  regions() {
    return this.host.regions();
  }

  readTierMap(out: Bitmap): Promise<void> {
    return this.host.readTierMap(out);
  }

  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    const units = this.units;
    const n = await this.host.testAndClearAccessed(scan, accessed);
    units.spread(accessed);
    return n;
  }

  async testAndClearDirty(scan: Bitmap, dirty: Bitmap): Promise<number> {
    const units = this.units;
    const n = await this.host.testAndClearDirty(scan, dirty);
    units.spread(dirty);
    return n;
  }

  async drainDirtyLog(): Promise<DirtyLogDrain> {
    const units = this.units;
    const log = await this.host.drainDirtyLog();
    if (units.count === 0 || log.count === 0) return log;
    const written = new Uint8Array(units.count);
    let singles = 0;
    for (let i = 0; i < log.count; i++) {
      const k = units.unitOf(log.pages[i]!);
      if (k < 0) singles++;
      else written[k] = 1;
    }
    const unitCount = written.reduce((n, x) => n + x, 0);
    const pages = new Uint32Array(singles + unitCount * UNIT_PAGES);
    let j = 0;
    for (let i = 0; i < log.count; i++) if (units.unitOf(log.pages[i]!) < 0) pages[j++] = log.pages[i]!;
    for (let k = 0; k < written.length; k++) {
      if (!written[k]) continue;
      const u = units.heads[k]!;
      for (let p = u; p < u + UNIT_PAGES; p++) pages[j++] = p;
    }
    return { pages, count: pages.length, overflowed: log.overflowed, bufferFullExits: log.bufferFullExits };
  }

  /** Each unit named once (its first page); every entry of it gets that outcome; counts are per entry (page). */
  async migrate(pages: Uint32Array, target: MigrationTarget, signal?: AbortSignal): Promise<MigrationResult> {
    if (this.units.count === 0) return this.host.migrate(pages, target, signal);
    const requestOf = new Int32Array(pages.length); // entry -> index in the host's request
    const request: number[] = [];
    const seen = new Map<number, number>(); // unit index -> request index
    for (let i = 0; i < pages.length; i++) {
      const k = this.units.unitOf(pages[i]!);
      if (k < 0) {
        requestOf[i] = request.push(pages[i]!) - 1;
        continue;
      }
      let r = seen.get(k);
      if (r === undefined) {
        r = request.push(this.units.heads[k]!) - 1;
        seen.set(k, r);
      }
      requestOf[i] = r;
    }
    const inner = await this.host.migrate(Uint32Array.from(request), target, signal);
    const outcome = new Uint8Array(pages.length);
    let moved = 0;
    let busy = 0;
    let failed = 0;
    let absent = 0;
    const firstEntry = new Int32Array(request.length).fill(-1);
    for (let i = 0; i < pages.length; i++) {
      const o = inner.outcome[requestOf[i]!]! as MigrationOutcome;
      outcome[i] = o;
      if (o === MigrationOutcome.Moved) moved++;
      else if (o === MigrationOutcome.Busy) busy++;
      else if (o === MigrationOutcome.Failed) failed++;
      else if (o === MigrationOutcome.Absent) absent++;
      if (firstEntry[requestOf[i]!] === -1) firstEntry[requestOf[i]!] = i;
    }
    const failures = inner.failures.map((f) => ({ index: firstEntry[f.index]!, reason: f.reason }));
    return { ...inner, outcome, failures, moved, busy, failed, absent };
  }

  tierUsage() {
    return this.host.tierUsage();
  }

  close(): Promise<void> {
    return this.host.close();
  }
}

type MigrationTarget = Parameters<MemoryHost['migrate']>[1];
