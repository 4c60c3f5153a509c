/**
 * kv-zipf: a YCSB-like key-value store (YCSB workload A: 50% reads, 50%
 * updates; Cooper et al., "Benchmarking Cloud Serving Systems with YCSB",
 * SoCC 2010) with Zipfian key popularity.
 *
 * Memory layout: a hash index (8-byte slots, 512 per page) followed by the
 * records, one 4 KiB record per page. Key popularity is Zipf(theta); by
 * default theta is computed for the page count so that the hottest 20% of the
 * records receive 80% of the record accesses (the 80/20 rule of the HMM-V
 * issue; about 0.86 for large stores). Like YCSB's "scrambled" Zipfian, the
 * popularity ranks are scattered over the record pages by a seeded random
 * permutation, so hot records are not adjacent.
 *
 * One operation: one read of the key's index slot, then accessesPerOp - 1
 * accesses to the record page: all reads for a read; for an update they are
 * writes, except that with two or more record accesses the first one reads
 * the record header. With the default of 2 accesses, half of the record
 * accesses are writes and a quarter of all accesses.
 *
 * Lines: the index slot is one 8 B slot, one line of its page (picked by the
 * key's hash). A record is YCSB's default of 10 fields of 100 B, 16 lines at
 * the start of its page: a get reads them all (readallfields=true, the
 * prefetchers bring the record in with its first miss); an update rewrites
 * one field (writeallfields=false), the 2 or 3 lines that field spans.
 * Defaults: 500 ns of CPU per operation (hashing, key compare, request
 * handling of an in-process store with no network: MICA-class stores serve a
 * few million requests per second per core), 2 accesses (index slot + record).
 */
import { lineSpan, type Workload, type WorkloadSpec } from './workload.js';
import { Params, checkOutput, checkPageCount, costParams, type ParamSpec } from './params.js';
import { randomPermutation } from './permutation.js';
import { Prng } from './prng.js';
import { ZipfSampler, thetaForShare } from './zipf.js';

export const KV_ZIPF_PARAMS: readonly ParamSpec[] = [
  { name: 'updateShare', default: 0.5, min: 0, max: 1, description: 'share of operations that are updates (YCSB A: 0.5)' },
  { name: 'hotFraction', default: 0.2, min: 0.001, max: 0.999, description: 'fraction of records that is "hot" when theta is derived' },
  { name: 'hotShare', default: 0.8, min: 0.001, max: 0.999, description: 'share of record accesses the hot fraction receives when theta is derived' },
  { name: 'theta', min: 0, max: 4, description: 'Zipf exponent (default: derived from hotFraction/hotShare for the record count)' },
  { name: 'recordLines', default: 16, min: 1, max: 64, integer: true, description: "64 B lines of a record, read whole by a get (YCSB's default record: 10 fields of 100 B)" },
  { name: 'fields', default: 10, min: 1, max: 64, integer: true, description: 'fields per record; an update rewrites one of them (YCSB A: writeallfields=false)' },
  ...costParams(500, 2, 2),
];

/** Operations whose ranks and update draws are made in one block. */
const DRAW_BLOCK = 1024;
/** Slots of 8 bytes per 4 KiB index page. */
const SLOTS_PER_INDEX_PAGE = 512;

export class KvZipfWorkload implements Workload {
  readonly name = 'kv-zipf';
  readonly pageCount: number;
  readonly cpuNsPerOp: number;
  readonly accessesPerOp: number;
  /** Pages [0, indexPages) hold the hash index, the rest one record each. */
  readonly indexPages: number;
  readonly recordPages: number;
  readonly theta: number;
  readonly updateShare: number;
  /** The rank-to-record permutation and the Zipf head table. */
  readonly stateBytes: number;
  /** Draws for the update decisions and fields (one per operation), and the Zipf sampler's own. */
  private readonly rng: Prng;
  private readonly zipfRng: Prng;
  private readonly zipf: ZipfSampler;
  /** Scratch: one block's ranks. */
  private readonly ranks = new Uint32Array(DRAW_BLOCK);
  /** Popularity rank -> record number. */
  private readonly recordOfRank: Uint32Array;
  /** Seeds the hash that places a record's index slot. */
  private readonly indexSalt: number;
  /** updateShare as a threshold on a 32-bit draw. */
  private readonly updateThreshold: number;
  /** Line descriptor of a get (the whole record) and of an update of each field. */
  private readonly recordDescriptor: number;
  private readonly fieldDescriptors: Uint16Array;

  constructor(spec: WorkloadSpec) {
    const p = new Params('kv-zipf', KV_ZIPF_PARAMS, spec.params);
    checkPageCount('kv-zipf', spec.pageCount, 3);
    this.pageCount = spec.pageCount;
    this.cpuNsPerOp = p.num('cpuNsPerOp');
    this.accessesPerOp = p.num('accessesPerOp');
    this.updateShare = p.num('updateShare');
    this.indexPages = Math.ceil(spec.pageCount / (SLOTS_PER_INDEX_PAGE + 1));
    this.recordPages = spec.pageCount - this.indexPages;
    this.theta = p.optionalNum('theta') ?? thetaForShare(this.recordPages, p.num('hotFraction'), p.num('hotShare'));
    this.zipf = new ZipfSampler(this.recordPages, this.theta);
    this.recordOfRank = randomPermutation(this.recordPages, new Prng(spec.seed, 1));
    this.indexSalt = new Prng(spec.seed, 2).nextU32();
    this.rng = new Prng(spec.seed, 0);
    this.zipfRng = new Prng(spec.seed, 3);
    this.stateBytes = 4 * this.recordPages + this.zipf.stateBytes + 4 * DRAW_BLOCK;
    this.updateThreshold = this.updateShare * 2 ** 32;
    const recordLines = p.num('recordLines');
    const fields = p.num('fields');
    this.recordDescriptor = lineSpan(0, recordLines);
    this.fieldDescriptors = new Uint16Array(fields);
    const fieldBytes = (recordLines * 64) / fields;
    for (let f = 0; f < fields; f++) {
      const first = Math.floor((f * fieldBytes) / 64);
      const last = Math.max(first, Math.ceil(((f + 1) * fieldBytes) / 64) - 1);
      this.fieldDescriptors[f] = lineSpan(first, last - first + 1);
    }
  }

  /** The page holding the record of popularity rank `rank` (0 = hottest). */
  pageOfRank(rank: number): number {
    return this.indexPages + this.recordOfRank[rank]!;
  }

  nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out, lines);
    const rng = this.rng;
    const per = this.accessesPerOp;
    const recordDescriptor = this.recordDescriptor;
    const fieldDescriptors = this.fieldDescriptors;
    const fields = fieldDescriptors.length;
    const salt = this.indexSalt;
    const indexScale = this.indexPages * 2 ** -32;
    const indexPages = this.indexPages;
    const recordOfRank = this.recordOfRank;
    const zipf = this.zipf;
    const updateThreshold = this.updateThreshold;
    const ranks = this.ranks;
    // The update draws: xoshiro128** inline (Prng.fillU32's steps, the state in locals), one per operation.
    const state = rng.state;
    let s0 = state[0]! | 0;
    let s1 = state[1]! | 0;
    let s2 = state[2]! | 0;
    let s3 = state[3]! | 0;
    let o = 0;
    for (let done = 0; done < ops; ) {
      const block = Math.min(ops - done, DRAW_BLOCK);
      zipf.fill(this.zipfRng, ranks, block);
      for (let i = 0; i < block; i++) {
        const record = recordOfRank[ranks[i]!]!;
        const m = Math.imul(s1, 5);
        const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        // Update or get without a branch (half of each, at random: a branch would be mispredicted on every other
        // operation): the write bit as a number, the descriptor picked with its mask.
        const update = +(u < updateThreshold);
        const field = recordDescriptor ^ ((fieldDescriptors[((u & 0xffff) * fields) >>> 16]! ^ recordDescriptor) & -update);
        // A hash of the record picks its index slot: the page from the hash's value (multiply-shift), the line from its top bits.
        let h = Math.imul(record ^ salt, 0x9e3779b1);
        h ^= h >>> 15;
        out[o] = Math.floor((h >>> 0) * indexScale) << 1;
        lines[o++] = h >>> 26;
        const recordAccess = (indexPages + record) << 1;
        if (per === 2) {
          // The record access is the update itself (a write of the field) or the get.
          out[o] = recordAccess | update;
          lines[o++] = field;
        } else {
          // The record's header is read first, then the field written (or the record read again).
          out[o] = recordAccess;
          lines[o++] = recordDescriptor;
          for (let a = 2; a < per; a++) {
            out[o] = recordAccess | update;
            lines[o++] = field;
          }
        }
      }
      done += block;
    }
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = s3;
  }
}
