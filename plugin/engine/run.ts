/**
 * The HMM-V loop for one VM, as its drivers (the per-domain manager, the
 * simulated machine) run it:
 *
 *   every round:   harvest accessed bits (all due pages in the first round of a
 *                  window, then the ones still seen: schedule.ts), drain the dirty log
 *   every window:  wait for the previous window's migrations, fold evidence into
 *                  temperatures and queue levels, cut the hot set, plan, and start
 *                  migrating (paced to the rate limit, while the next window scans);
 *                  re-measure DRAM if fresh hot pages are stuck in NVM (revalidate.ts)
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
import { revalidateAll, revalidateDram, revalidationThreshold, settledPagesChanged, stuckHotPages } from './revalidate.js';
import { geometricSchedule } from './schedule.js';
import { seenAtLeast } from './evidence.js';
import { StreamDetector } from './stream.js';
import { StreamFollower } from './stream-follower.js';
import { periodicRate, streamRoundsSeen, streamValue, type StreamValue } from './stream-value.js';
import { accessRatePerPage, hotTemperature as hotTemperatureFor } from './temperature.js';
import { Tracker } from './tracker.js';
import { closeWindow, createWindowStats, levelCounts } from './window-close.js';

/**
 * Rounds a page must survive to count as part of a moving window (stream.ts):
 * enough to leave out a one-pass scan that comes back to a page only after
 * longer than the second and third rounds together, and few enough that a
 * fast window stays visible (a page must be in it at the first and the third
 * round).
 */
const STREAM_ROUNDS = 3;

/** A window adds rounds only while more pages than this (and than half the quota) survive. */
const MIN_RANKED_SURVIVORS = 32;

export interface EngineOptions {
  /** Pages of DRAM this VM may use. */
  dramQuotaPages: number;
  /** Scan rounds per monitoring window, and the mean time between rounds (window = rounds x interval). */
  roundsPerWindow: number;
  roundIntervalNs: number;
  /** Each round this many times shorter than the one before (1: equal rounds; schedule.ts). */
  roundIntervalRatio: number;
  /** No round shorter than this (a backend's harvest takes time). */
  minRoundIntervalNs: number;
  /** Rounds a page must be seen in during a window to climb a queue level (the rest go down). */
  hotRounds: number;
  /** Follow moving hot windows (stream.ts): promote ahead of them, demote behind them. */
  followStreams: boolean;
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
  roundIntervalRatio: 2,
  minRoundIntervalNs: 20e3,
  hotRounds: 4,
  followStreams: true,
  migrationBytesPerSec: 1 << 30,
  hysteresis: 8,
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
  /** Windows after which DRAM was re-measured because fresh hot pages were stuck in NVM. */
  revalidations: number;
}

/** What one window ended with. */
export interface EngineSnapshot {
  window: number;
  timeNs: number;
  dramPages: number;
  nvmPages: number;
  quotaPages: number;
  /**
   * Pages that are hot whatever the quota: at or above the temperature of a
   * page seen in `hotRounds` rounds of every window, plus the stream lead
   * (reservedPages). It can exceed the quota: it is the demand the pool's
   * `fair` and `weighted` policies divide DRAM by (a cut at the quota would
   * never show a VM wanting more than it has).
   */
  hotSetPages: number;
  /**
   * DRAM the engine needs beyond what the histogram shows hot: the pages the
   * stream follower promotes ahead of moving hot windows (cold now, as hot as
   * the window once it gets there).
   */
  reservedPages: number;
  /**
   * Followed streams whose per-page rate this window's evidence measured
   * (stream-value.ts): the follower's pages at the rate they are worth, for
   * the pool's curve. Those pages and the trails the streams left, by
   * temperature, are in `streamHistogram` (they are in `histogram` too: the
   * curve takes them out there).
   */
  streams: StreamValue[];
  streamHistogram: Uint32Array;
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

/** Pages at temperature `from` or hotter, from a histogram (O(256)). */
function pagesAtLeast(histogram: Uint32Array, from: number): number {
  let n = 0;
  for (let t = from; t < histogram.length; t++) n += histogram[t]!;
  return n;
}

export function startEngine(host: MemoryHost, clock: Clock, options: EngineOptions, signal: AbortSignal): RunningEngine {
  const state = new PageState(host.pageCount);
  // Huge-page units (huge-units.ts): only for a host that can report them.
  const units = host.hugePageUnits ? new HugeUnitTracking(host as MemoryHost & Required<Pick<MemoryHost, 'hugePageUnits'>>) : undefined;
  const tracker = new Tracker(units?.host ?? host, state);
  const totals: EngineTotals = {
    windows: 0, rounds: 0, pagesScanned: 0, dirtyLogEntries: 0, fullDirtyScans: 0, bufferFullExits: 0, revalidations: 0,
    promoted: 0, demoted: 0, busy: 0, failed: 0, absent: 0, recopies: 0, bytesCopied: 0, pauseNs: 0, maxPauseNs: 0, lastFailures: [],
  };
  const histograms = new TemperatureHistograms();
  const migrator = new Migrator(units?.host ?? host, state, histograms, clock, () => options.migrationBytesPerSec, totals);
  let quota = options.dramQuotaPages;
  let snapshot: EngineSnapshot | undefined;
  const windowNs = options.roundsPerWindow * options.roundIntervalNs;
  // No round shorter than the host's evidence can resolve (DAMON: one aggregation interval).
  const minRoundNs = Math.max(options.minRoundIntervalNs, host.accessedIntervalNs ?? 0);
  const schedule = geometricSchedule(options.roundsPerWindow, windowNs, options.roundIntervalRatio, minRoundNs);
  const rates = accessRatePerPage(schedule);
  const hotRounds = Math.min(options.hotRounds, options.roundsPerWindow);
  const hotTemperature = hotTemperatureFor(hotRounds);
  // Huge-page units move whole: the follower (page by page) is off for them.
  const followStreams = options.followStreams && units === undefined;
  const detector = new StreamDetector(host.pageCount);
  // A stream's page was seen in the first round (the front's fix) and in round STREAM_ROUNDS - 1 (the back's).
  const sinceRound = (r: number): number => schedule.intervalsNs.subarray(r + 1).reduce((a, b) => a + b, 0);
  const frontAgeNs = sinceRound(0);
  const backAgeNs = sinceRound(STREAM_ROUNDS - 1);
  const stepNs = windowNs / 16;
  const follower = new StreamFollower(state, migrator, detector, () => quota, {
    stepNs,
    leadNs: 2 * stepNs + windowNs / 2,
    maxPagesPerStep: Math.max(1, Math.floor((options.migrationBytesPerSec * stepNs) / 1e9 / host.pageSizeBytes)),
  });
  // The follower steps between window closes while there is a stream; it waits for a window close otherwise.
  let windowClosed: () => void = () => undefined;
  let nextClose = new Promise<void>((resolve) => (windowClosed = resolve));
  let stopped = false;
  const follow = async (): Promise<void> => {
    try {
      while (!signal.aborted && !stopped) {
        if (!follower.active) {
          await nextClose;
          continue;
        }
        await clock.sleep(stepNs, signal);
        await follower.step(clock.now(), signal);
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  };

  const loop = async (): Promise<EngineTotals> => {
    await host.readTierMap(state.nvm);
    await units?.refresh();
    histograms.recount(state);
    bitmapFill(state.scan, host.pageCount);
    units?.afterWindowClose(state, histograms);
    const h = createWindowStats();
    let inFlight: Promise<void> = Promise.resolve();
    let lastMoved = 0;
    // The hot-set cut's temperature when the quota is full (pages near it are held at queue level 0).
    let holdAround = -256;
    let lastWindowAt = clock.now();
    try {
      for (;;) {
        let windowScanned = 0;
        let lastRoundAt = clock.now();
        // The window's rounds, then extra shorter ones while more pages survive than DRAM can rank.
        const rankable = Math.max(MIN_RANKED_SURVIVORS, quota / 2);
        let harvested = Infinity;
        for (let r = 0; r < schedule.intervalsNs.length && (r < schedule.rounds || harvested > rankable); r++) {
          await clock.sleep(schedule.intervalsNs[r]!, signal);
          lastRoundAt = clock.now();
          const round = await tracker.scanRound();
          totals.rounds++;
          harvested = round.pagesScanned;
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

        // Streams are read from the window's evidence before the window pass folds it in.
        if (followStreams) detector.observe((w) => seenAtLeast(state, w, STREAM_ROUNDS), clock.now(), frontAgeNs + (clock.now() - lastRoundAt), backAgeNs + (clock.now() - lastRoundAt));
        // The followed streams' per-page rates, from the same evidence (for the pool's curve).
        const measured = follower.followed().map((s) => ({ s, rate: periodicRate(schedule, streamRoundsSeen(state, s, clock.now(), STREAM_ROUNDS), state.roundsThisWindow) }));
        // Pages near last window's DRAM cut stay at level 0: measured every window.
        closeWindow(state, histograms, h, { hotRounds, holdFrom: holdAround - options.hysteresis, holdTo: holdAround + options.hysteresis });
        units?.afterWindowClose(state, histograms);
        const dramPages = host.pageCount - h.nvmPages;
        migrator.dramPages = dramPages;
        const cut = hotSetCut(h.all, quota);
        holdAround = cut.size >= quota ? cut.threshold : -256;
        // The follower's moves share the rate limit; the lead region it will fill is left free.
        const budgetPages = Math.max(0, (options.migrationBytesPerSec * windowNs) / 1e9 / host.pageSizeBytes - follower.takeMoved());
        const counts = planCounts({
          movableNvm: h.movableNvm, movableDram: h.movableDram, dramPages, quotaPages: Math.max(0, quota - follower.reservedPages()),
          budgetPages, hysteresis: options.hysteresis, minPromoteTemperature: 1,
        });
        let plan = collectPlan(state, counts);
        if (units) plan = units.wholePlan(plan, state.temperature, quota - dramPages);
        if (followStreams) plan = { demote: plan.demote, promote: follower.filterPromotions(plan.promote, clock.now(), windowNs / 2) };
        state.rotateMoved();
        if (settledPagesChanged(h.settledScanned, h.settledDown)) {
          totals.revalidations++;
          revalidateAll(state);
        } else if (dramPages >= quota && stuckHotPages(h.movableNvm, h.movableDram, hotTemperature, plan.promote.length, plan.demote.length) >= revalidationThreshold(quota)) {
          totals.revalidations++;
          revalidateDram(state);
        }

        const now = clock.now();
        const moved = totals.promoted + totals.demoted;
        const streamHistogram = new Uint32Array(h.all.length);
        const streams: StreamValue[] = measured
          .filter((m) => m.rate > 0)
          .map(({ s, rate }) => streamValue(state, s, now, rate, follower.marginPages(s), follower.leadPages(s), streamHistogram));
        snapshot = {
          window: totals.windows,
          timeNs: now,
          dramPages,
          nvmPages: h.nvmPages,
          quotaPages: quota,
          hotSetPages: Math.min(host.pageCount, pagesAtLeast(h.all, hotTemperature) + follower.reservedPages()),
          reservedPages: follower.reservedPages(),
          streams,
          streamHistogram,
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
        windowClosed();
        nextClose = new Promise<void>((resolve) => (windowClosed = resolve));
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      stopped = true;
      windowClosed();
    }
    await inFlight.catch(() => undefined);
    return totals;
  };
  const followLoop = follow();

  return {
    done: Promise.all([loop(), followLoop]).then(([t]) => t),
    totals: () => totals,
    lastSnapshot: () => snapshot,
    setDramQuotaPages: (pages) => {
      if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`DRAM quota must be a whole number of pages >= 0, got ${pages}`);
      quota = pages;
    },
    bytesPerPage: () => state.bytesPerPage(),
  };
}
