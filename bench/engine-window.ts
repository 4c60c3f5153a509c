/**
 * Engine cost per monitoring window at a given guest size: the per-round
 * tracker work (folding harvested accessed bits and the dirty log) for every
 * round, plus the window pass (temperature, queue, histograms), the hot-set
 * cut, the plan and collecting the plan's pages. The host's own cost of
 * harvesting is not the engine's and is kept minimal here: a bench host that
 * hands back a fixed access pattern (20% of pages hot, 5% of those written).
 */
import { performance } from 'node:perf_hooks';
import type { DirtyLogDrain, MemoryHost, MigrationResult, TierUsage } from '../plugin/host/memory-host.js';
import { hotSetCut } from '../plugin/engine/hot-set.js';
import { PageState } from '../plugin/engine/page-state.js';
import { collectPlan, planCounts } from '../plugin/engine/planner.js';
import { Tracker } from '../plugin/engine/tracker.js';
import { TemperatureHistograms } from '../plugin/engine/histograms.js';
import { closeWindow, createWindowStats } from '../plugin/engine/window-close.js';
import { bitmapFill, bitmapSet, createBitmap, type Bitmap } from '../plugin/util/bitmap.js';

class PatternHost implements MemoryHost {
  readonly kind = 'bench-pattern';
  readonly pageSizeBytes = 4096;
  readonly vcpuCount = 4;
  private readonly hot: Bitmap;
  private readonly dirty: Uint32Array;

  constructor(readonly pageCount: number) {
    this.hot = createBitmap(pageCount);
    let x = 0x9e3779b9;
    const dirty: number[] = [];
    for (let i = 0; i < pageCount; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      const r = (x >>> 0) / 4294967296;
      if (r < 0.2) bitmapSet(this.hot, i);
      if (r < 0.01) dirty.push(i);
    }
    this.dirty = Uint32Array.from(dirty);
  }
  regions() { return [{ name: 'bench', firstPage: 0, pageCount: this.pageCount }]; }
  async readTierMap(out: Bitmap) { bitmapFill(out, this.pageCount); }
  async testAndClearAccessed(scan: Bitmap, accessed: Bitmap) {
    for (let w = 0; w < scan.length; w++) accessed[w] = scan[w]! & this.hot[w]!;
    return this.pageCount;
  }
  async testAndClearDirty() { return 0; }
  async drainDirtyLog(): Promise<DirtyLogDrain> {
    return { pages: this.dirty, count: this.dirty.length, overflowed: false, bufferFullExits: 0 };
  }
  async migrate(): Promise<MigrationResult> { throw new Error('not used'); }
  async tierUsage(): Promise<TierUsage[]> { return []; }
  async close() {}
}

export interface EngineWindowResult {
  pages: number;
  gib: number;
  roundsPerWindow: number;
  /** Median over the measured windows. */
  msPerWindow: number;
  msTrackerPerWindow: number;
  msWindowPass: number;
  msHotSetAndPlan: number;
  msCollectPlan: number;
  plannedPages: number;
  bytesPerPage: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchEngineWindow(pages: number, windows = 12, roundsPerWindow = 8): Promise<EngineWindowResult> {
  const host = new PatternHost(pages);
  const state = new PageState(pages);
  await host.readTierMap(state.nvm);
  bitmapFill(state.scan, pages);
  const tracker = new Tracker(host, state);
  const h = createWindowStats();
  const hist = new TemperatureHistograms();
  hist.recount(state);
  const quota = Math.floor(pages / 5);
  const budget = pages / 50;
  const tTrack: number[] = [], tPass: number[] = [], tPlan: number[] = [], tCollect: number[] = [], tAll: number[] = [];
  let planned = 0;
  for (let w = 0; w < windows + 1; w++) {
    const t0 = performance.now();
    for (let r = 0; r < roundsPerWindow; r++) await tracker.scanRound();
    const t1 = performance.now();
    closeWindow(state, hist, h);
    const t2 = performance.now();
    hotSetCut(h.all, quota);
    const counts = planCounts({ movableNvm: h.movableNvm, movableDram: h.movableDram, dramPages: pages - h.nvmPages,
      quotaPages: quota, budgetPages: budget, hysteresis: 4, minPromoteTemperature: 1 });
    const t3 = performance.now();
    const plan = collectPlan(state, counts);
    const t4 = performance.now();
    state.rotateMoved();
    if (w === 0) continue; // warm-up
    planned = plan.promote.length + plan.demote.length;
    tTrack.push(t1 - t0); tPass.push(t2 - t1); tPlan.push(t3 - t2); tCollect.push(t4 - t3); tAll.push(t4 - t0);
  }
  return {
    pages,
    gib: (pages * 4096) / 2 ** 30,
    roundsPerWindow,
    msPerWindow: median(tAll),
    msTrackerPerWindow: median(tTrack),
    msWindowPass: median(tPass),
    msHotSetAndPlan: median(tPlan),
    msCollectPlan: median(tCollect),
    plannedPages: planned,
    bytesPerPage: state.bytesPerPage(),
  };
}
