/**
 * The HMM-V loop for one VM, as its drivers (the per-domain manager, the
 * simulated machine) run it:
 *
 *   every round:   harvest accessed bits of due pages, drain the dirty log
 *   every window:  wait for the previous window's migrations, fold evidence into
 *                  temperatures and queue levels, cut the hot set, plan, and start
 *                  migrating (paced to the rate limit, while the next window scans)
 *
 * The same code runs on the wall clock and on the simulator's virtual clock.
 */
import type { MemoryHost } from '../host/memory-host.js';
import type { Clock } from '../util/clock.js';
import { bitmapFill } from '../util/bitmap.js';
import { hotSetCut } from './hot-set.js';
import { HugeUnitTracking } from './huge-units.js';
import { TemperatureHistograms } from './histograms.js';
import { Migrator, type MigrationTotals } from './migrator.js';
import { PageState } from './page-state.js';
import { collectPlan, planCounts } from './planner.js';
import { accessRatePerPage } from './temperature.js';
import { Tracker } from './tracker.js';
import { closeWindow, createWindowStats, levelCounts } from './window-close.js';

export interface EngineOptions {
  /** Pages of DRAM this VM may use. */
  dramQuotaPages: number;
  /** Scan rounds per monitoring window, and the time between rounds. */
  roundsPerWindow: number;
  roundIntervalNs: number;
  /** Migration rate limit in bytes per second (both directions together). */
  migrationBytesPerSec: number;
  /** A swap needs the NVM page hotter than the DRAM page by more than this. */
  hysteresis: number;
  /** Re-read the host's tier map every this many windows (catches moves not made by us). */
  tierRefreshWindows: number;
  /** Called after every window with its snapshot (the pool's report, status, tests). */
  onWindow?: (snapshot: EngineSnapshot) => void;
}

export const defaultEngineOptions = (dramQuotaPages: number): EngineOptions => ({
  dramQuotaPages,
  roundsPerWindow: 8,
  roundIntervalNs: 10e6,
  migrationBytesPerSec: 1 << 30,
  hysteresis: 4,
  tierRefreshWindows: 32,
});

/** Totals since start. */
export interface EngineTotals extends MigrationTotals {
  windows: number;
  rounds: number;
  pagesScanned: number;
  dirtyLogEntries: number;
  fullDirtyScans: number;
  bufferFullExits: number;
}

/** What one window ended with. */
export interface EngineSnapshot {
  window: number;
  timeNs: number;
  dramPages: number;
  nvmPages: number;
  quotaPages: number;
  /** Pages the hot-set cut puts in DRAM (at most the quota). */
  hotSetPages: number;
  /** Pages seen accessed lately (temperature above 0). */
  warmPages: number;
  /** Pages per temperature, all and in DRAM only. */
  histogram: Uint32Array;
  dramHistogram: Uint32Array;
  /** Estimated accesses per second of one page at each temperature. */
  accessRatePerPage: Float64Array;
  /** Pages scanned in this window's rounds (falls as pages settle in the queue). */
  pagesScanned: number;
  /** Pages per multi-level-queue level. */
  levels: Uint32Array;
  planned: { promote: number; demote: number };
  migratedPagesPerSec: number;
  totals: EngineTotals;
}

export interface RunningEngine {
  /** Resolves when the loop has stopped (signal aborted) with the totals; rejects if the host failed. */
  readonly done: Promise<EngineTotals>;
  totals(): EngineTotals;
  lastSnapshot(): EngineSnapshot | undefined;
  /** Changes the DRAM quota (the pool does this); takes effect at the next window's plan. */
  setDramQuotaPages(pages: number): void;
  /** Bytes of engine state per guest page. */
  bytesPerPage(): number;
}

export function startEngine(host: MemoryHost, clock: Clock, options: EngineOptions, signal: AbortSignal): RunningEngine {
  const state = new PageState(host.pageCount);
  // Huge-page units (huge-units.ts): only for a host that can report them.
  const units = host.hugePageUnits ? new HugeUnitTracking(host as MemoryHost & Required<Pick<MemoryHost, 'hugePageUnits'>>) : undefined;
  const tracker = new Tracker(units?.host ?? host, state);
  const totals: EngineTotals = {
    windows: 0, rounds: 0, pagesScanned: 0, dirtyLogEntries: 0, fullDirtyScans: 0, bufferFullExits: 0,
    promoted: 0, demoted: 0, busy: 0, failed: 0, recopies: 0, bytesCopied: 0, pauseNs: 0, maxPauseNs: 0, lastFailures: [],
  };
  const histograms = new TemperatureHistograms();
  const migrator = new Migrator(units?.host ?? host, state, histograms, clock, () => options.migrationBytesPerSec, totals);
  let quota = options.dramQuotaPages;
  let snapshot: EngineSnapshot | undefined;
  const windowNs = options.roundsPerWindow * options.roundIntervalNs;
  const rates = accessRatePerPage(options.roundsPerWindow, windowNs / 1e9);

  const loop = async (): Promise<EngineTotals> => {
    await host.readTierMap(state.nvm);
    await units?.refresh();
    histograms.recount(state);
    bitmapFill(state.scan, host.pageCount);
    units?.afterWindowClose(state, histograms);
    const h = createWindowStats();
    let inFlight: Promise<void> = Promise.resolve();
    let lastMoved = 0;
    let lastWindowAt = clock.now();
    try {
      for (;;) {
        let windowScanned = 0;
        for (let r = 0; r < options.roundsPerWindow; r++) {
          await clock.sleep(options.roundIntervalNs, signal);
          const round = await tracker.scanRound();
          totals.rounds++;
          windowScanned += round.pagesScanned;
          totals.dirtyLogEntries += round.dirtyLogEntries;
          totals.bufferFullExits += round.bufferFullExits;
          if (round.fullDirtyScan) totals.fullDirtyScans++;
        }
        totals.pagesScanned += windowScanned;
        await inFlight;
        if (signal.aborted) break;
        totals.windows++;
        if (totals.windows % options.tierRefreshWindows === 0) {
          await host.readTierMap(state.nvm);
          await units?.refresh();
          histograms.recount(state);
        }

        closeWindow(state, histograms, h);
        units?.afterWindowClose(state, histograms);
        const dramPages = host.pageCount - h.nvmPages;
        const cut = hotSetCut(h.all, quota);
        const budgetPages = (options.migrationBytesPerSec * windowNs) / 1e9 / host.pageSizeBytes;
        const counts = planCounts({
          movableNvm: h.movableNvm, movableDram: h.movableDram, dramPages, quotaPages: quota,
          budgetPages, hysteresis: options.hysteresis, minPromoteTemperature: 1,
        });
        let plan = collectPlan(state, counts);
        if (units) plan = units.wholePlan(plan, state.temperature, quota - dramPages);
        state.rotateMoved();

        const now = clock.now();
        const moved = totals.promoted + totals.demoted;
        snapshot = {
          window: totals.windows,
          timeNs: now,
          dramPages,
          nvmPages: h.nvmPages,
          quotaPages: quota,
          hotSetPages: cut.size,
          warmPages: host.pageCount - h.all[0]!,
          histogram: h.all.slice(),
          dramHistogram: h.dram.slice(),
          accessRatePerPage: rates,
          pagesScanned: windowScanned,
          levels: levelCounts(state),
          planned: { promote: plan.promote.length, demote: plan.demote.length },
          migratedPagesPerSec: ((moved - lastMoved) * 1e9) / Math.max(1, now - lastWindowAt),
          totals: { ...totals, lastFailures: [...totals.lastFailures] },
        };
        lastMoved = moved;
        lastWindowAt = now;
        options.onWindow?.(snapshot);
        inFlight = migrator.execute(plan, signal);
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
    await inFlight.catch(() => undefined);
    return totals;
  };

  return {
    done: loop(),
    totals: () => totals,
    lastSnapshot: () => snapshot,
    setDramQuotaPages: (pages) => {
      if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`DRAM quota must be a whole number of pages >= 0, got ${pages}`);
      quota = pages;
    },
    bytesPerPage: () => state.bytesPerPage(),
  };
}
