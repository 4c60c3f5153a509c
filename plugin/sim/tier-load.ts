/**
 * The tiers of one simulated host, shared by all its VMs: capacity and use in
 * pages, the traffic of the current time slice, copy traffic in flight, and the
 * loaded latency every VM sees in the next slice (tiers.ts has the curve).
 */
import { CACHE_LINE_BYTES, MAX_UTILISATION, loadedLatencyFactor, type TierPreset } from './tiers.js';

/** Index into `latencyNs`: tier * 2 + (sequential ? 0 : 1). */
export const latencyIndex = (tier: number, sequential: boolean): number => tier * 2 + (sequential ? 0 : 1);

/**
 * Smoothing of measured utilisation (time constant, ns). A closed loop reacts
 * to its own latency; without damping, load and latency would oscillate from
 * one slice to the next.
 */
export const LOAD_SMOOTHING_NS = 2e6;

/** A copy gets at least this share of its nominal bandwidth however loaded the tiers are. */
export const MIN_COPY_SHARE = 0.05;

export class TierLoad {
  readonly preset: TierPreset;
  readonly capacityPages: Float64Array;
  readonly usedPages = new Float64Array(2);
  /** Guest cache-line reads and write-backs per tier in the current slice (the VM runners add to these). */
  readonly sliceReads = new Float64Array(2);
  readonly sliceWrites = new Float64Array(2);
  /** Copy traffic now in flight, bytes per second read from / written to each tier. */
  readonly copyReadBytesPerSec = new Float64Array(2);
  readonly copyWriteBytesPerSec = new Float64Array(2);
  /** Smoothed utilisation per tier (0 .. 1). */
  readonly utilisation = new Float64Array(2);
  /** Loaded latency per (tier, sequential?) for the coming slice, ns. */
  readonly latencyNs = new Float64Array(4);
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

  constructor(preset: TierPreset, dramPages: number, nvmPages: number, trafficScale = 1) {
    if (!(trafficScale > 0)) throw new Error(`traffic scale must be positive, got ${trafficScale}`);
    this.preset = preset;
    this.trafficScale = trafficScale;
    this.capacityPages = Float64Array.of(dramPages, nvmPages);
    this.setLatencies();
  }

  /** Starts the run totals afresh (the end of a warm-up). */
  resetTotals(): void {
    this.totalReadBytes.fill(0);
    this.totalWriteBytes.fill(0);
    this.peakUtilisation.fill(0);
  }

  freePages(tier: number): number {
    return this.capacityPages[tier]! - this.usedPages[tier]!;
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

  /** Closes a slice of `sliceNs`: folds its traffic into the utilisation and sets next slice's latencies. */
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
      const u = this.utilisation[t]! + alpha * (measured - this.utilisation[t]!);
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
    }
  }
}
