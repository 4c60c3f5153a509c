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
 * Defaults: 500 ns of CPU per operation (hashing, key compare, request
 * handling of an in-process store with no network: MICA-class stores serve a
 * few million requests per second per core), 2 accesses (index slot + record).
 */
import { encodeAccess, type Workload, type WorkloadSpec } from '../workload.js';
import { Params, checkOutput, checkPageCount, costParams, type ParamSpec } from './params.js';
import { randomPermutation } from './permutation.js';
import { Prng } from './prng.js';
import { ZipfSampler, thetaForShare } from './zipf.js';

export const KV_ZIPF_PARAMS: readonly ParamSpec[] = [
  { name: 'updateShare', default: 0.5, min: 0, max: 1, description: 'share of operations that are updates (YCSB A: 0.5)' },
  { name: 'hotFraction', default: 0.2, min: 0.001, max: 0.999, description: 'fraction of records that is "hot" when theta is derived' },
  { name: 'hotShare', default: 0.8, min: 0.001, max: 0.999, description: 'share of record accesses the hot fraction receives when theta is derived' },
  { name: 'theta', min: 0, max: 4, description: 'Zipf exponent (default: derived from hotFraction/hotShare for the record count)' },
  ...costParams(500, 2, 2),
];

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
  private readonly rng: Prng;
  private readonly zipf: ZipfSampler;
  /** Popularity rank -> record number. */
  private readonly recordOfRank: Uint32Array;
  /** Seeds the hash that places a record's index slot. */
  private readonly indexSalt: number;

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
  }

  /** The page holding the record of popularity rank `rank` (0 = hottest). */
  pageOfRank(rank: number): number {
    return this.indexPages + this.recordOfRank[rank]!;
  }

  nextOps(ops: number, out: Uint32Array): void {
    checkOutput(this.name, ops, this.accessesPerOp, out);
    const rng = this.rng;
    const per = this.accessesPerOp;
    let o = 0;
    for (let i = 0; i < ops; i++) {
      const record = this.recordOfRank[this.zipf.sample(rng)]!;
      const update = rng.nextFloat() < this.updateShare;
      out[o++] = encodeAccess(this.indexPageOf(record), false);
      const page = this.indexPages + record;
      out[o++] = encodeAccess(page, false);
      for (let a = 2; a < per; a++) out[o++] = encodeAccess(page, update);
      if (update && per === 2) out[o - 1] = encodeAccess(page, true);
    }
  }

  /** A hash of the record number picks its index page (uniform over the index). */
  private indexPageOf(record: number): number {
    let h = Math.imul(record ^ this.indexSalt, 0x9e3779b1);
    h ^= h >>> 15;
    return (h >>> 0) % this.indexPages;
  }
}
