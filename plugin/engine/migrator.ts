/**
 * Carries out a migration plan through the memory host: demotions first (to
 * make room), then promotions, in batches, paced to the rate limit. The host
 * does the copy-while-running, the recopies and the final switch; the
 * migrator keeps the engine's tier mirror and anti-thrash bits in step with
 * what actually moved.
 */
import { MigrationOutcome, Tier, type MemoryHost } from '../host/memory-host.js';
import { bitmapClear, bitmapGet, bitmapSet } from '../util/bitmap.js';
import type { Clock } from '../util/clock.js';
import type { TemperatureHistograms } from './histograms.js';
import type { PageState } from './page-state.js';
import type { MigrationPlan } from './planner.js';

export const MIGRATION_BATCH_PAGES = 512;

export interface MigrationTotals {
  promoted: number;
  demoted: number;
  busy: number;
  failed: number;
  /** Pages the host found absent (never touched): nothing to move, not failures. */
  absent: number;
  recopies: number;
  bytesCopied: number;
  pauseNs: number;
  maxPauseNs: number;
  /** The most recent failure reasons (bounded), for logs and status. */
  lastFailures: string[];
}

export function emptyMigrationTotals(): MigrationTotals {
  return { promoted: 0, demoted: 0, busy: 0, failed: 0, absent: 0, recopies: 0, bytesCopied: 0, pauseNs: 0, maxPauseNs: 0, lastFailures: [] };
}

const MAX_KEPT_FAILURES = 8;

export class Migrator {
  /** Pages of the VM in DRAM as the engine's tier mirror has it (synced at each window close, kept by moves). */
  dramPages = 0;

  constructor(
    private readonly host: MemoryHost,
    private readonly state: PageState,
    private readonly histograms: TemperatureHistograms,
    private readonly clock: Clock,
    private readonly bytesPerSec: () => number,
    readonly totals: MigrationTotals = emptyMigrationTotals(),
  ) {}

  async execute(plan: MigrationPlan, signal?: AbortSignal): Promise<void> {
    await this.moveAll(plan.demote, Tier.NVM, signal);
    await this.moveAll(plan.promote, Tier.DRAM, signal);
  }

  /** Moves pages to a tier in paced batches (the stream follower's small moves; execute() for a plan). */
  async moveAll(pages: Uint32Array, target: Tier, signal?: AbortSignal): Promise<void> {
    for (let start = 0; start < pages.length; start += MIGRATION_BATCH_PAGES) {
      if (signal?.aborted) return;
      const batch = pages.subarray(start, start + MIGRATION_BATCH_PAGES);
      const began = this.clock.now();
      const result = await this.host.migrate(batch, target, signal);
      const { state, totals } = this;
      for (let i = 0; i < batch.length; i++) {
        const page = batch[i]!;
        const outcome = result.outcome[i];
        // An absent page takes no memory anywhere: the mirror puts it where it was asked to go (so the
        // planner does not ask again every window; a tier refresh sees it again if the guest touches it).
        if (outcome === MigrationOutcome.Moved || outcome === MigrationOutcome.AlreadyThere || outcome === MigrationOutcome.Absent) {
          const toNvm = target === Tier.NVM;
          if (bitmapGet(state.nvm, page) !== toNvm) {
            this.histograms.changeTier(state.temperature[page]!, toNvm);
            if (toNvm) bitmapSet(state.nvm, page);
            else bitmapClear(state.nvm, page);
            this.dramPages += toNvm ? -1 : 1;
          }
          if (outcome === MigrationOutcome.Moved) state.markMoved(page);
        }
      }
      if (target === Tier.DRAM) totals.promoted += result.moved;
      else totals.demoted += result.moved;
      totals.busy += result.busy;
      totals.failed += result.failed;
      totals.absent += result.absent ?? 0;
      totals.recopies += result.recopies;
      totals.bytesCopied += result.bytesCopied;
      totals.pauseNs += result.pauseNs;
      totals.maxPauseNs = Math.max(totals.maxPauseNs, result.maxPauseNs);
      for (const f of result.failures) {
        totals.lastFailures.push(`page ${batch[f.index]}: ${f.reason}`);
        if (totals.lastFailures.length > MAX_KEPT_FAILURES) totals.lastFailures.shift();
      }
      // Pace to the rate limit: this batch may not take less than its share of time.
      const minNs = (batch.length * this.host.pageSizeBytes * 1e9) / this.bytesPerSec();
      const elapsed = this.clock.now() - began;
      if (elapsed < minNs) {
        try {
          await this.clock.sleep(minNs - elapsed, signal);
        } catch {
          return; // aborted
        }
      }
    }
  }
}
