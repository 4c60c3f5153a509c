/**
 * The tiers of one simulated host, shared by all its VMs: capacity and use in
 * pages, the traffic of the current time slice, copy traffic in flight, and the
 * loaded latency every VM sees in the next slice (tiers.ts has the curve).
 */
import { buildTrafficTables, countedPairs, type TrafficTables } from './line-traffic.js';
import type { PolicyTiers } from './policy.js';
import { CACHE_LINE_BYTES, MAX_UTILISATION, loadedLatencyFactor, type TierPreset } from './tiers.js';

/** Index into `latencyNs`: tier * 2 + (sequential ? 0 : 1). */
export const latencyIndex = (tier: number, sequential: boolean): number => tier * 2 + (sequential ? 0 : 1);
/** Index into `accessLatencyNs`: tier * 4 + (write-back only ? 2 : 0) + (sequential ? 0 : 1). */
export const accessLatencyIndex = (tier: number, writeBackOnly: boolean, sequential: boolean): number =>
  tier * 4 + (writeBackOnly ? 2 : 0) + (sequential ? 0 : 1);

/** Where the counted traffic pairs start in TierLoad.accessCosts (after the 8 latencies). */
export const ACCESS_COSTS_TRAFFIC = 8;

/**
 * Smoothing of measured utilisation (time constant, ns). A closed loop reacts
 * to its own latency; without damping, load and latency would oscillate from
 * one slice to the next.
 */
export const LOAD_SMOOTHING_NS = 2e6;

/**
 * The utilisation u at which u * f(u) = k (f = loadedLatencyFactor, u * f(u)
 * rises from 0 to infinity on [0, 1)): bisection, 40 steps.
 */
export function settlingUtilisation(k: number): number {
  if (!(k > 0)) return 0;
  let lo = 0;
  let hi = MAX_UTILISATION;
  if (hi * loadedLatencyFactor(hi) <= k) return hi;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (mid * loadedLatencyFactor(mid) < k) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A copy gets at least this share of its nominal bandwidth however loaded the tiers are. */
export const MIN_COPY_SHARE = 0.05;

export class TierLoad implements PolicyTiers {
  readonly preset: TierPreset;
  /** Pages per tier. */
  readonly capacity: Float64Array;
  readonly usedPages = new Float64Array(2);
  /**
   * Guest media traffic per tier in the current slice, in 64 B units (an
   * Optane XPLine counts 4): reads and writes. The VM runners add to these.
   */
  readonly sliceReads = new Float64Array(2);
  readonly sliceWrites = new Float64Array(2);
  /** Copy traffic now in flight, bytes per second read from / written to each tier. */
  readonly copyReadBytesPerSec = new Float64Array(2);
  readonly copyWriteBytesPerSec = new Float64Array(2);
  /** Smoothed utilisation per tier (0 .. 1). */
  readonly utilisation = new Float64Array(2);
  /** Loaded latency per (tier, sequential?) for the coming slice, ns. */
  readonly latencyNs = new Float64Array(4);
  /**
   * What a write-back (a posted write) waits per tier in the coming slice,
   * ns: the queueing part of the loaded latency (loaded minus idle random
   * latency). Nothing at idle; when the device saturates its write queues
   * fill and the stores back up, which is how a write-heavy loop feels the
   * device's bandwidth.
   */
  readonly writeBackWaitNs = new Float64Array(2);
  /**
   * The two above in one table for the runner's branch-free loop, indexed by
   * accessLatencyIndex: per tier, a demand access's loaded latency
   * (sequential, random) and a write-back's wait (twice, either way).
   */
  readonly accessLatencyNs: Float64Array;
  /**
   * The fast loop's one table (one array: V8 checks each array an access
   * touches): accessLatencyNs at [0, 8), then the counted traffic pairs
   * (line-traffic.ts countedPairs: traffic with the write and NVM-access
   * counts) from ACCESS_COSTS_TRAFFIC on.
   */
  readonly accessCosts: Float64Array;
  /** Totals over the run, bytes. */
  readonly totalReadBytes = new Float64Array(2);
  readonly totalWriteBytes = new Float64Array(2);
  /** Highest smoothed utilisation seen per tier. */
  readonly peakUtilisation = new Float64Array(2);

  /**
   * Each simulated access stands for this many on the real host, for the
   * tiers' load only: simulating every cache miss of a many-core host would be
   * too slow, so a VM's simulated vCPUs are taken as a sample of its real ones
   * with the same access pattern.
   */
  readonly trafficScale: number;
  /** Media traffic of one access by tier and line descriptor (line-traffic.ts). */
  readonly traffic: TrafficTables;

  constructor(preset: TierPreset, dramPages: number, nvmPages: number, trafficScale = 1) {
    if (!(trafficScale > 0)) throw new Error(`traffic scale must be positive, got ${trafficScale}`);
    this.preset = preset;
    this.trafficScale = trafficScale;
    this.capacity = Float64Array.of(dramPages, nvmPages);
    this.traffic = buildTrafficTables(preset);
    const pairs = countedPairs(this.traffic);
    this.accessCosts = new Float64Array(ACCESS_COSTS_TRAFFIC + pairs.length);
    this.accessCosts.set(pairs, ACCESS_COSTS_TRAFFIC);
    this.accessLatencyNs = this.accessCosts.subarray(0, 8);
    this.setLatencies();
  }

  /** Starts the run totals afresh (the end of a warm-up). */
  resetTotals(): void {
    this.totalReadBytes.fill(0);
    this.totalWriteBytes.fill(0);
    this.peakUtilisation.fill(0);
  }

  capacityPages(tier: number): number {
    return this.capacity[tier]!;
  }

  freePages(tier: number): number {
    return this.capacity[tier]! - this.usedPages[tier]!;
  }

  addTraffic(tier: number, readUnits: number, writeUnits: number): void {
    this.sliceReads[tier]! += readUnits;
    this.sliceWrites[tier]! += writeUnits;
  }

  /**
   * How fast a copy from `from` to `to` can go now: at most `maxBytesPerSec`,
   * at most the bandwidth the two tiers have left (reads of the source, writes
   * of the destination), and never below MIN_COPY_SHARE of the maximum (the
   * copy competes for the device rather than waiting for it to go idle).
   */
  copyBytesPerSec(from: number, to: number, maxBytesPerSec: number): number {
    const readLeft = (MAX_UTILISATION - this.utilisation[from]!) * this.preset.tiers[from]!.readBytesPerSec;
    const writeLeft = (MAX_UTILISATION - this.utilisation[to]!) * this.preset.tiers[to]!.writeBytesPerSec;
    const rate = Math.min(maxBytesPerSec, readLeft, writeLeft);
    return Math.max(rate, MIN_COPY_SHARE * maxBytesPerSec);
  }

  startCopy(from: number, to: number, bytesPerSec: number): void {
    this.copyReadBytesPerSec[from]! += bytesPerSec;
    this.copyWriteBytesPerSec[to]! += bytesPerSec;
  }

  endCopy(from: number, to: number, bytesPerSec: number, bytes: number): void {
    this.copyReadBytesPerSec[from]! -= bytesPerSec;
    this.copyWriteBytesPerSec[to]! -= bytesPerSec;
    this.totalReadBytes[from]! += bytes;
    this.totalWriteBytes[to]! += bytes;
  }

  /** A copy done at once (a synchronous page migration): its bytes count in this slice's traffic. */
  addCopyBytes(from: number, to: number, bytes: number): void {
    const lines = bytes / CACHE_LINE_BYTES / this.trafficScale;
    this.sliceReads[from]! += lines;
    this.sliceWrites[to]! += lines;
  }

  /**
   * Closes a slice of `sliceNs`: folds its traffic into the utilisation and
   * sets next slice's latencies.
   *
   * The VMs are closed loops: each op waits for its accesses, so their
   * traffic falls as latency rises (Little's law: traffic ~ concurrency /
   * latency). Feeding the measured utilisation straight back into the steep
   * loaded-latency curve would oscillate near saturation (the loop gain grows
   * as 1 / (1 - u)). Instead each slice solves for the utilisation the loop
   * settles at: the slice ran at u0 with factor f(u0) and measured um, so its
   * concurrency is um * f(u0) in units of the device; the settling point u
   * satisfies u * f(u) = um * f(u0). Traffic less sensitive to latency than
   * a pure closed loop (CPU time in the ops, copies) makes the step smaller
   * than needed, never larger, so the solve converges without overshoot; an
   * open-loop load (the same traffic every slice) converges to its own
   * utilisation. Past the device's bandwidth the solved u approaches 1 and
   * latency grows with the demand, so a saturated device runs at its bandwidth.
   * The solved value is smoothed (LOAD_SMOOTHING_NS) against measurement noise.
   */
  endSlice(sliceNs: number): void {
    if (sliceNs <= 0) return;
    const sec = sliceNs / 1e9;
    const alpha = sliceNs / (sliceNs + LOAD_SMOOTHING_NS);
    for (let t = 0; t < 2; t++) {
      const params = this.preset.tiers[t]!;
      const readBytes = this.sliceReads[t]! * CACHE_LINE_BYTES * this.trafficScale;
      const writeBytes = this.sliceWrites[t]! * CACHE_LINE_BYTES * this.trafficScale;
      this.totalReadBytes[t]! += readBytes;
      this.totalWriteBytes[t]! += writeBytes;
      const measured =
        (readBytes / sec + this.copyReadBytesPerSec[t]!) / params.readBytesPerSec +
        (writeBytes / sec + this.copyWriteBytesPerSec[t]!) / params.writeBytesPerSec;
      const u0 = this.utilisation[t]!;
      const settled = settlingUtilisation(measured * loadedLatencyFactor(u0));
      const u = u0 + alpha * (settled - u0);
      this.utilisation[t] = u;
      if (u > this.peakUtilisation[t]!) this.peakUtilisation[t] = u;
      this.sliceReads[t] = 0;
      this.sliceWrites[t] = 0;
    }
    this.setLatencies();
  }

  private setLatencies(): void {
    for (let t = 0; t < 2; t++) {
      const params = this.preset.tiers[t]!;
      const factor = loadedLatencyFactor(this.utilisation[t]!);
      this.latencyNs[latencyIndex(t, true)] = params.seqReadNs * factor;
      this.latencyNs[latencyIndex(t, false)] = params.randReadNs * factor;
      this.writeBackWaitNs[t] = params.randReadNs * (factor - 1);
      this.accessLatencyNs[accessLatencyIndex(t, false, true)] = this.latencyNs[latencyIndex(t, true)]!;
      this.accessLatencyNs[accessLatencyIndex(t, false, false)] = this.latencyNs[latencyIndex(t, false)]!;
      this.accessLatencyNs[accessLatencyIndex(t, true, true)] = this.writeBackWaitNs[t]!;
      this.accessLatencyNs[accessLatencyIndex(t, true, false)] = this.writeBackWaitNs[t]!;
    }
  }
}
