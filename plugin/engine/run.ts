/**
 * Entry point of the engine for its drivers (the simulated machine, the
 * per-domain manager): run the HMM-V loop on one VM's memory host until the
 * signal aborts. PLACEHOLDER: the real loop lands with the engine.
 */
import type { MemoryHost } from '../host/memory-host.js';
import type { Clock } from '../util/clock.js';

export interface EngineOptions {
  /** Pages of DRAM this VM may use. */
  dramQuotaPages: number;
  /** Scan rounds per monitoring window, and the time between rounds. */
  roundsPerWindow: number;
  roundIntervalNs: number;
  /** Migration rate limit in bytes per second (copy traffic, both directions together). */
  migrationBytesPerSec: number;
}

export const defaultEngineOptions = (dramQuotaPages: number): EngineOptions => ({
  dramQuotaPages,
  roundsPerWindow: 8,
  roundIntervalNs: 25e6,
  migrationBytesPerSec: 1 << 30,
});

/** Totals the engine reports when it stops (and on demand through `stats`). */
export interface EngineTotals {
  windows: number;
  rounds: number;
  pagesScanned: number;
  dirtyLogEntries: number;
  fullDirtyScans: number;
  promoted: number;
  demoted: number;
  busy: number;
  failed: number;
  recopies: number;
}

export interface RunningEngine {
  /** Resolves when the loop has stopped (signal aborted) with the totals. */
  readonly done: Promise<EngineTotals>;
  totals(): EngineTotals;
  /** Changes the DRAM quota (the pool does this); takes effect next window. */
  setDramQuotaPages(pages: number): void;
}

export function startEngine(_host: MemoryHost, _clock: Clock, _options: EngineOptions, _signal: AbortSignal): RunningEngine {
  throw new Error('engine not built yet');
}
