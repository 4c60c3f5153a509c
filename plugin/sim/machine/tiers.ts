/**
 * Memory tiers of the simulated machine: published latencies and bandwidths,
 * and how latency rises as a tier's bandwidth fills.
 *
 * Sources (numbers rounded as the papers give them):
 *  [IZR19] J. Izraelevitz et al., "Basic Performance Measurements of the Intel
 *          Optane DC Persistent Memory Module", arXiv 1903.05714 (2019):
 *          idle read latency DRAM 81 ns sequential / 101 ns random, Optane
 *          169 ns / 305 ns; six interleaved Optane DIMMs reach 39.4 GB/s read and
 *          13.9 GB/s write, about 3x below DRAM's ~105 GB/s read.
 *  [HMMV]  The figures issue 2 gives for one socket of the HMM-V testbed
 *          (arXiv 2209.13111): Optane 37.6 GB/s read, 12.5 GB/s write, DRAM
 *          ~105 GB/s read. We use these (close to [IZR19]'s maxima).
 *  [POND]  H. Li et al., "Pond: CXL-Based Memory Pooling Systems for Cloud
 *          Platforms", ASPLOS 2023: CXL memory adds 70-90 ns to a local access,
 *          ~170 ns idle; and a PCIe 5.0 x8 CXL link carries ~32 GB/s each way.
 *  [MLC]   Intel Memory Latency Checker loaded-latency curves: latency stays
 *          near idle up to about half the peak bandwidth, then climbs steeply
 *          as the controller's queues fill (also Fig. 6 of [IZR19]).
 *  [YANG20] J. Yang et al., "An Empirical Guide to the Behavior and Use of
 *          Scalable Persistent Memory", FAST 2020 (same group and machine as
 *          [IZR19]; data in github.com/NVSL/OptaneStudy, graphs/05): the
 *          Optane media is accessed in 256 B XPLines. Random accesses over six
 *          interleaved DIMMs: 64 B reads reach 9.67 GB/s, 256 B reads 33.65
 *          GB/s; 64 B ntstores 3.17 GB/s, 256 B ntstores 12.19 GB/s: a 64 B
 *          access costs the device as much as a 256 B one.
 *  [WANG20] Z. Wang et al., "Characterizing and Modeling Non-Volatile Memory
 *          Systems", MICRO 2020 (VANS, github.com/TheNetAdmin/VANS): the DIMM's
 *          RMW buffer holds 64 XPLines of 256 B; a write of part of an XPLine
 *          that is not in the buffer reads it from the media, merges and writes
 *          back 256 B; a whole-XPLine write is combined without the read.
 *
 * DRAM write bandwidth is not in the sources above; we take about half the read
 * bandwidth (an all-write MLC run on DDR4 typically gets 50-60% of all-read).
 */

/** Bytes of one cache line: the unit of traffic the tiers count. */
export const CACHE_LINE_BYTES = 64;

/**
 * Media access granularity in bytes. DRAM and CXL move 64 B lines. Optane's
 * media works in 256 B XPLines [IZR19, YANG20, WANG20]: an access costs the
 * device one 256 B media read or write per XPLine it touches, so a random
 * 64 B read or write-back costs four times its size, while the four lines of
 * one XPLine moved by one access (a prefetched scan, a 1 KB record) cost one.
 * The read-modify-write of a partial XPLine write (media read, merge, 256 B
 * write [WANG20]) is charged as the 256 B write only: with its read on top the
 * model would give 64 B random writes 2.3 GB/s, the measured figure is 3.17
 * GB/s, a quarter of 256 B writes [YANG20] (the buffer overlaps the read).
 * The buffer is not modelled across accesses: random traffic over gigabytes
 * replaces its 64 entries long before a line's neighbours arrive.
 */
export const DRAM_MEDIA_BYTES = 64;
export const OPTANE_MEDIA_BYTES = 256;
export const CXL_MEDIA_BYTES = 64;

/** [IZR19] idle read latencies, ns. */
export const DRAM_SEQ_READ_NS = 81;
export const DRAM_RAND_READ_NS = 101;
export const OPTANE_SEQ_READ_NS = 169;
export const OPTANE_RAND_READ_NS = 305;
/** [POND] idle CXL latency, ns (sequential gets the same ~70 ns adder over DRAM). */
export const CXL_RAND_READ_NS = 170;
export const CXL_SEQ_READ_NS = DRAM_SEQ_READ_NS + 70;

/** [HMMV]/[IZR19] bandwidths per socket, bytes per second. */
export const DRAM_READ_BYTES_PER_SEC = 105e9;
/** Assumption (see header): about half of DRAM's read bandwidth. */
export const DRAM_WRITE_BYTES_PER_SEC = 57e9;
export const OPTANE_READ_BYTES_PER_SEC = 37.6e9;
export const OPTANE_WRITE_BYTES_PER_SEC = 12.5e9;
/** [POND] PCIe 5.0 x8 link, each direction. */
export const CXL_READ_BYTES_PER_SEC = 32e9;
export const CXL_WRITE_BYTES_PER_SEC = 32e9;

/**
 * Loaded latency ([MLC] shape). With utilisation u = read bytes/s / read
 * bandwidth + write bytes/s / write bandwidth (reads and writes share the
 * device's time), an access waits like in an M/D/1 queue whose service time is
 * the idle latency times QUEUE_SCALE:
 *
 *     latency(u) = idle * (1 + QUEUE_SCALE * u / (2 * (1 - u)))
 *
 * u is capped at MAX_UTILISATION (the cap keeps the curve finite). With
 * QUEUE_SCALE = 1 latency is +17% at u = 0.25, +50% at u = 0.5, +150% at
 * u = 0.75, 5.5x at 0.9, 25x at 0.98, which matches the knee of the
 * published loaded-latency curves.
 *
 * How a closed loop settles on this curve (and why it does not oscillate
 * near saturation) is in tier-load.ts endSlice.
 */
export const QUEUE_SCALE = 1;
/** Highest utilisation the curve reaches (factor 500): a saturated device's latency keeps growing with its demand up to there. */
export const MAX_UTILISATION = 0.999;

export function loadedLatencyFactor(utilisation: number): number {
  const u = utilisation <= 0 ? 0 : utilisation >= MAX_UTILISATION ? MAX_UTILISATION : utilisation;
  return 1 + (QUEUE_SCALE * u) / (2 * (1 - u));
}

/** One tier's idle parameters. */
export interface TierParams {
  readonly name: string;
  readonly seqReadNs: number;
  readonly randReadNs: number;
  readonly readBytesPerSec: number;
  readonly writeBytesPerSec: number;
  /** Smallest unit the medium reads or writes (a multiple of CACHE_LINE_BYTES). */
  readonly mediaBytes: number;
}

export const DRAM: TierParams = {
  name: 'dram',
  seqReadNs: DRAM_SEQ_READ_NS,
  randReadNs: DRAM_RAND_READ_NS,
  readBytesPerSec: DRAM_READ_BYTES_PER_SEC,
  writeBytesPerSec: DRAM_WRITE_BYTES_PER_SEC,
  mediaBytes: DRAM_MEDIA_BYTES,
};

export const OPTANE: TierParams = {
  name: 'optane',
  seqReadNs: OPTANE_SEQ_READ_NS,
  randReadNs: OPTANE_RAND_READ_NS,
  readBytesPerSec: OPTANE_READ_BYTES_PER_SEC,
  writeBytesPerSec: OPTANE_WRITE_BYTES_PER_SEC,
  mediaBytes: OPTANE_MEDIA_BYTES,
};

export const CXL: TierParams = {
  name: 'cxl',
  seqReadNs: CXL_SEQ_READ_NS,
  randReadNs: CXL_RAND_READ_NS,
  readBytesPerSec: CXL_READ_BYTES_PER_SEC,
  writeBytesPerSec: CXL_WRITE_BYTES_PER_SEC,
  mediaBytes: CXL_MEDIA_BYTES,
};

/** A fast tier and a slow tier (index 0 and 1, as Tier in memory-host.ts). */
export interface TierPreset {
  readonly name: string;
  readonly description: string;
  readonly tiers: readonly [TierParams, TierParams];
}

export const TIER_PRESETS: Readonly<Record<string, TierPreset>> = {
  optane: { name: 'optane', description: 'DRAM + Intel Optane DC PMem, one socket [IZR19, HMMV]', tiers: [DRAM, OPTANE] },
  cxl: { name: 'cxl', description: 'DRAM + CXL memory expander on PCIe 5.0 x8 [POND]', tiers: [DRAM, CXL] },
};

export function tierPreset(name: string): TierPreset {
  const preset = TIER_PRESETS[name];
  if (!preset) {
    throw new Error(`unknown tier preset "${name}" (known: ${Object.keys(TIER_PRESETS).join(', ')})`);
  }
  return preset;
}
