/**
 * Engine cost per monitoring window at a given guest size: the per-round
 * tracker work (folding harvested accessed bits and the dirty log) for every
 * round, plus the window pass (temperature, queue, histograms), the hot-set
 * cut, the plan and collecting the plan's pages, with the engine's default
 * rate limit as the plan's budget. The host's own cost of harvesting is a
 * backend's, not the engine's: a bench host hands back an access pattern and
 * its time is reported apart. Two patterns:
 *
 *   static  (the pattern since issue 13's baseline) 20% of pages hot at random
 *           places, each accessed in every round, 1% of pages written in every
 *           round; nothing changes, so the sieve never loses a page;
 *   rates   the same 20% and 1%, but each hot page is accessed in a round with
 *           a probability of its own, 1, 1/2, ... 1/32 (a spread of access rates
 *           as a real program has), independently per round, a written page
 *           written whenever accessed: pages leave the sieve at every round and
 *           a page left alone keeps its accessed bit until it is harvested;
 *   clustered the static pattern's 20% and 1%, laid out as a guest's memory is
 *           (guest RAM backed by 2 MiB pages, a program's working set in
 *           contiguous ranges): 512-page extents each hot with probability
 *           1/5, every page of a hot extent accessed in every round, its first
 *           26 pages (5%) written in every round; 80% of the guest sits in
 *           whole cold extents. Each step is timed in wall time and in the
 * process's CPU time (the latter is what the engine costs on a machine other
 * processes load; both exclude the host's calls).
 *
 * The driver only uses engine calls that today's and the issue-13 baseline's
 * engines share, so bench/run.ts runs this same file against the previous
 * build's engine too (two-builds.ts `sameDriver`): both builds then measure
 * the same workload with the same clocks.
 */
import { performance } from 'node:perf_hooks';
import type { DirtyLogDrain, MemoryHost, MigrationResult, TierUsage } from '../plugin/host/memory-host.js';
import { hotSetCut } from '../plugin/engine/hot-set.js';
import { defaultEngineOptions } from '../plugin/engine/run.js';
import { PageState } from '../plugin/engine/page-state.js';
import { collectPlan, planCounts } from '../plugin/engine/planner.js';
import { Tracker } from '../plugin/engine/tracker.js';
import { TemperatureHistograms } from '../plugin/engine/histograms.js';
import { closeWindow, createWindowStats } from '../plugin/engine/window-close.js';
import { bitmapFill, bitmapSet, createBitmap, type Bitmap } from '../plugin/util/bitmap.js';

export type AccessPattern = 'static' | 'rates' | 'clustered';

/** Pages per extent of the clustered pattern (a 2 MiB huge page of 4 KiB pages). */
const EXTENT_PAGES = 512;

export class PatternHost implements MemoryHost {
  readonly kind = 'bench-pattern';
  /** Time spent inside the host's own calls (the backend's work, not the engine's): wall and CPU. */
  hostMs = 0;
  hostCpuMs = 0;
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 4;
  private readonly hot: Bitmap;
  private readonly dirty: Uint32Array;
  /** rates: each hot page's rate as log2 of 1 / its probability per round (0..5), and the pages accessed but not harvested yet. */
  private readonly hotPages: Uint32Array;
  private readonly rateShift: Uint8Array;
  private readonly writer: Uint8Array;
  private readonly pending: Bitmap;
  private readonly logged: Uint32Array;
  private loggedCount = 0;
  private round = 0;

  constructor(readonly pageCount: number, private readonly pattern: AccessPattern = 'static') {
    this.hot = createBitmap(pageCount);
    let x = 0x9e3779b9;
    const dirty: number[] = [];
    const hotPages: number[] = [];
    const shifts: number[] = [];
    const writers: number[] = [];
    let y = 0x2545f491;
    for (let i = 0; i < pageCount; i++) {
      let r: number;
      if (pattern === 'clustered') {
        // One draw per extent: hot (r < 0.2) or cold for all its pages; its first pages written.
        if (i % EXTENT_PAGES === 0) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; }
        const extentHot = (x >>> 0) / 4294967296 < 0.2;
        r = !extentHot ? 0.5 : i % EXTENT_PAGES < 26 ? 0.005 : 0.1;
      } else {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        r = (x >>> 0) / 4294967296;
      }
      if (r < 0.2) {
        bitmapSet(this.hot, i);
        hotPages.push(i);
        // The rate from a generator of its own (r decides which pages are hot and written, as in the static pattern).
        y ^= y << 13; y ^= y >>> 17; y ^= y << 5;
        shifts.push(Math.floor(((y >>> 0) / 4294967296) * 6));
        writers.push(r < 0.01 ? 1 : 0);
      }
      if (r < 0.01) dirty.push(i);
    }
    this.dirty = Uint32Array.from(dirty);
    this.hotPages = pattern === 'rates' ? Uint32Array.from(hotPages) : new Uint32Array(0);
    this.rateShift = pattern === 'rates' ? Uint8Array.from(shifts) : new Uint8Array(0);
    this.writer = pattern === 'rates' ? Uint8Array.from(writers) : new Uint8Array(0);
    this.pending = createBitmap(pattern === 'rates' ? pageCount : 0);
    this.logged = new Uint32Array(pattern === 'rates' ? dirty.length : 0);
  }
  regions() { return [{ name: 'bench', firstPage: 0, pageCount: this.pageCount }]; }
  async readTierMap(out: Bitmap) { bitmapFill(out, this.pageCount); }
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap) {
    const t0 = performance.now();
    const c0 = cpuMs();
    if (this.pattern === 'rates') this.rateRound(scan, accessed);
    else andInto(accessed, scan, this.hot);
    this.hostMs += performance.now() - t0;
    this.hostCpuMs += cpuMs() - c0;
    return this.pageCount;
  }
  async testAndClearDirty() { return 0; }
  async drainDirtyLog(): Promise<DirtyLogDrain> {
    if (this.pattern === 'rates') return { pages: this.logged, count: this.loggedCount, overflowed: false, bufferFullExits: 0 };
    return { pages: this.dirty, count: this.dirty.length, overflowed: false, bufferFullExits: 0 };
  }
  /** One round of the rates pattern: who was accessed (a hash of page and round against the page's rate), harvested where scanned. */
  private rateRound(scan: Bitmap, accessed: Bitmap): void {
    const { hotPages, rateShift, pending, writer } = this;
    const seed = Math.imul(++this.round, 0x9e3779b1);
    const thisRound = this.logged; // reused: pages written this round (a written page is written whenever accessed)
    let logged = 0;
    for (let i = 0; i < hotPages.length; i++) {
      const page = hotPages[i]!;
      let h = Math.imul(page ^ seed, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      if ((h & ((1 << rateShift[i]!) - 1)) !== 0) continue;
      pending[page >>> 5] = pending[page >>> 5]! | (1 << (page & 31));
      if (writer[i] !== 0) thisRound[logged++] = page;
    }
    this.loggedCount = logged;
    for (let w = 0; w < accessed.length; w++) {
      const got = scan[w]! & pending[w]!;
      accessed[w] = accessed[w]! | got;
      pending[w] = pending[w]! & ~got;
    }
  }
  async migrate(): Promise<MigrationResult> { throw new Error('not used'); }
  async tierUsage(): Promise<TierUsage[]> { return []; }
  async close() {}
}

/** CPU time of this process (user + system): unlike wall time, not inflated by other processes on a loaded machine. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function andInto(out: Bitmap, a: Bitmap, b: Bitmap): void {
  for (let w = 0; w < out.length; w++) out[w] = a[w]! & b[w]!;
}

export interface EngineWindowResult {
  pages: number;
  gib: number;
  roundsPerWindow: number;
  /** Median over the measured windows, engine only (the bench host's own calls excluded). */
  msPerWindow: number;
  msTrackerPerWindow: number;
  /** The bench host's harvesting per window (a backend's cost, shown for scale). */
  msHostPerWindow: number;
  /** Pages the plan may move per window: the engine's default rate limit over one window. */
  budgetPages: number;
  msWindowPass: number;
  msHotSetAndPlan: number;
  msCollectPlan: number;
  /** The same steps in CPU time (medians): what the engine costs, robust to other processes' load. */
  cpuMsPerWindow: number;
  cpuMsTrackerPerWindow: number;
  cpuMsWindowPass: number;
  cpuMsCollectPlan: number;
  plannedPages: number;
  bytesPerPage: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchEngineWindow(pages: number, windows = 12, roundsPerWindow = 8, pattern: AccessPattern = 'static'): Promise<EngineWindowResult> {
  const host = new PatternHost(pages, pattern);
  const state = new PageState(pages);
  await host.readTierMap(state.nvm);
  bitmapFill(state.scan, pages);
  const tracker = new Tracker(host, state);
  const h = createWindowStats();
  const hist = new TemperatureHistograms();
  hist.recount(state);
  const quota = Math.floor(pages / 5);
  const defaults = defaultEngineOptions(quota);
  const budget = Math.floor((defaults.migrationBytesPerSec * defaults.roundsPerWindow * defaults.roundIntervalNs) / 1e9 / 4096);
  const tHost: number[] = [];
  const tTrack: number[] = [], tPass: number[] = [], tPlan: number[] = [], tCollect: number[] = [], tAll: number[] = [];
  const cTrack: number[] = [], cPass: number[] = [], cCollect: number[] = [], cAll: number[] = [];
  let planned = 0;
  // Warm-up windows until about 4 Mi pages have been through the engine: V8 tiers a function
  // up by work done, so a small VM's first dozen windows still run unoptimised code (at 256 Ki
  // pages a 12-window median measured warm-up: twice the steady-state time, in either build).
  const warmup = Math.max(1, Math.ceil((4 * 1024 * 1024) / pages));
  for (let w = 0; w < windows + warmup; w++) {
    const hostBefore = host.hostMs;
    const hostCpuBefore = host.hostCpuMs;
    const t0 = performance.now();
    const c0 = cpuMs();
    for (let r = 0; r < roundsPerWindow; r++) await tracker.scanRound();
    const hostMs = host.hostMs - hostBefore;
    const hostCpu = host.hostCpuMs - hostCpuBefore;
    const t1 = performance.now() - hostMs;
    const c1 = cpuMs() - hostCpu;
    closeWindow(state, hist, h, defaults.hotRounds);
    const t2 = performance.now() - hostMs;
    const c2 = cpuMs() - hostCpu;
    hotSetCut(h.all, quota);
    const counts = planCounts({ movableNvm: h.movableNvm, movableDram: h.movableDram, dramPages: pages - h.nvmPages,
      quotaPages: quota, budgetPages: budget, hysteresis: 4, minPromoteTemperature: 1 });
    const t3 = performance.now() - hostMs;
    const c3 = cpuMs() - hostCpu;
    const plan = collectPlan(state, counts);
    const t4 = performance.now() - hostMs;
    const c4 = cpuMs() - hostCpu;
    state.rotateMoved();
    if (w < warmup) continue;
    planned = plan.promote.length + plan.demote.length;
    tHost.push(hostMs);
    tTrack.push(t1 - t0); tPass.push(t2 - t1); tPlan.push(t3 - t2); tCollect.push(t4 - t3); tAll.push(t4 - t0);
    cTrack.push(c1 - c0); cPass.push(c2 - c1); cCollect.push(c4 - c3); cAll.push(c4 - c0);
  }
  return {
    pages,
    gib: (pages * 4096) / 2 ** 30,
    roundsPerWindow,
    msPerWindow: median(tAll),
    msTrackerPerWindow: median(tTrack),
    msHostPerWindow: median(tHost),
    budgetPages: budget,
    msWindowPass: median(tPass),
    msHotSetAndPlan: median(tPlan),
    msCollectPlan: median(tCollect),
    cpuMsPerWindow: median(cAll),
    cpuMsTrackerPerWindow: median(cTrack),
    cpuMsWindowPass: median(cPass),
    cpuMsCollectPlan: median(cCollect),
    plannedPages: planned,
    bytesPerPage: state.bytesPerPage(),
  };
}
