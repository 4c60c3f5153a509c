/**
 * What one access costs each tier's media, from its line descriptor
 * (workload.ts), in 64 B units: a demand read of lines [first, first + n)
 * reads every media block (tiers.ts mediaBytes: 64 B lines for DRAM and CXL,
 * 256 B XPLines for Optane) the lines touch; a write writes those blocks
 * back; the write-back-only flag drops the demand read. So a random 8 B
 * update on Optane reads 256 B and writes 256 B, a prefetched 16-line scan
 * chunk reads 1 KiB, and the same accesses on DRAM move 64 B and 1 KiB.
 *
 * The tables are indexed by (tier << 14) | (write << 13) | descriptor and
 * built once per tier preset, so the runner's hot loop does table loads per
 * access instead of this arithmetic. Besides the read and write units (2 x 32
 * KiB) there are the same figures packed per tier for the runner's
 * branch-free loop: packed[2k] = read + write * PACKED_WRITE_UNIT if k's
 * tier is DRAM, else 0, and packed[2k + 1] the same for NVM (side by side:
 * one cache line, one array), so each access adds the pair to two running
 * sums and no branch on the tier is taken. The
 * sums stay exact while the reads they hold are below PACKED_WRITE_UNIT
 * (the runner unpacks them at least every PACKED_MAX_ACCESSES accesses).
 * The general loop uses these; the fast loop the counted pairs
 * (countedPairs), the same figures with a write count and an NVM-access
 * count in their low bits, so it keeps no counters of its own.
 */
import { LINE_BYTES, LINE_DESCRIPTORS, isWriteBackOnly, spanFirstLine, spanLineCount } from '../workloads/workload.js';
import type { TierPreset } from './tiers.js';

/** Index bit of a write in the traffic tables (above the 13 descriptor bits). */
export const TRAFFIC_WRITE = LINE_DESCRIPTORS;
/** Index shift of the tier in the traffic tables. */
export const TRAFFIC_TIER_SHIFT = 14;

export const trafficIndex = (tier: number, write: boolean, descriptor: number): number =>
  (tier << TRAFFIC_TIER_SHIFT) | (write ? TRAFFIC_WRITE : 0) | descriptor;

/** Weight of a write unit in the packed tables (reads below it, writes above). */
export const PACKED_WRITE_UNIT = 2 ** 24;
/** Accesses whose packed units a running sum may hold: 64 units each stay below PACKED_WRITE_UNIT. */
export const PACKED_MAX_ACCESSES = PACKED_WRITE_UNIT / 64 - 1;

export interface TrafficTables {
  /** 64 B units read from the tier's media, per index. */
  readonly readUnits: Uint8Array;
  /** 64 B units written to the tier's media, per index. */
  readonly writeUnits: Uint8Array;
  /**
   * Per index k: at 2k, read + write * PACKED_WRITE_UNIT if k's tier is DRAM,
   * else 0; at 2k + 1 the same for NVM.
   */
  readonly packed: Float64Array;
}

/**
 * The fast loop's packing (TierLoad.accessCosts): per index k, at 2k the DRAM
 * figure, at 2k + 1 the NVM one, each COUNTED_READ_UNIT * reads +
 * COUNTED_WRITE_UNIT * writes of k's tier (0 for the other tier), plus a
 * count in the low bits: the DRAM figure counts writes (1 if k is a write,
 * whatever its tier), the NVM figure NVM accesses (1 if k's tier is NVM). So
 * the two running sums also carry the loop's write and NVM access counts. A
 * sum of at most COUNTED_MAX_ACCESSES accesses is exact (below 2^51): counts
 * below 2^13, reads and writes (at most 64 units an access) below 2^19 each.
 */
export const COUNTED_READ_UNIT = 2 ** 13;
export const COUNTED_WRITE_UNIT = 2 ** 32;
export const COUNTED_MAX_ACCESSES = 4096;

/** The counted pairs (above) of `tables`, one pair per index. */
export function countedPairs(tables: TrafficTables): Float64Array {
  const size = tables.readUnits.length;
  const pairs = new Float64Array(2 * size);
  for (let k = 0; k < size; k++) {
    const nvm = k >>> TRAFFIC_TIER_SHIFT === 0 ? 0 : 1;
    const write = (k & TRAFFIC_WRITE) === 0 ? 0 : 1;
    pairs[2 * k + nvm] = tables.readUnits[k]! * COUNTED_READ_UNIT + tables.writeUnits[k]! * COUNTED_WRITE_UNIT;
    pairs[2 * k] += write;
    pairs[2 * k + 1] += nvm;
  }
  return pairs;
}

/** Splits a counted running sum into [count, read units, write units]. */
export function unpackCounted(sum: number): [number, number, number] {
  const writes = Math.floor(sum / COUNTED_WRITE_UNIT);
  const low = sum - writes * COUNTED_WRITE_UNIT;
  const reads = Math.floor(low / COUNTED_READ_UNIT);
  return [low - reads * COUNTED_READ_UNIT, reads, writes];
}

/** Splits a packed running sum into [read units, write units]. */
export function unpackUnits(sum: number): [number, number] {
  const writes = Math.floor(sum / PACKED_WRITE_UNIT);
  return [sum - writes * PACKED_WRITE_UNIT, writes];
}

/** Media blocks of `blockLines` lines that lines [first, first + count) touch. */
export function mediaBlocks(first: number, count: number, blockLines: number): number {
  return Math.floor((first + count - 1) / blockLines) - Math.floor(first / blockLines) + 1;
}

export function buildTrafficTables(preset: TierPreset): TrafficTables {
  const size = preset.tiers.length << TRAFFIC_TIER_SHIFT;
  const readUnits = new Uint8Array(size);
  const writeUnits = new Uint8Array(size);
  preset.tiers.forEach((params, t) => {
    if (params.mediaBytes % LINE_BYTES !== 0) throw new Error(`tier ${params.name}: media granularity ${params.mediaBytes} B is not a whole number of 64 B lines`);
    const blockLines = params.mediaBytes / LINE_BYTES;
    for (let d = 0; d < LINE_DESCRIPTORS; d++) {
      const units = mediaBlocks(spanFirstLine(d), spanLineCount(d), blockLines) * blockLines;
      const demand = isWriteBackOnly(d) ? 0 : units;
      readUnits[trafficIndex(t, false, d)] = demand;
      readUnits[trafficIndex(t, true, d)] = demand;
      writeUnits[trafficIndex(t, true, d)] = units;
    }
  });
  const packed = new Float64Array(2 * size);
  for (let k = 0; k < size; k++) {
    packed[2 * k + (k >>> TRAFFIC_TIER_SHIFT === 0 ? 0 : 1)] = readUnits[k]! + writeUnits[k]! * PACKED_WRITE_UNIT;
  }
  return { readUnits, writeUnits, packed };
}
