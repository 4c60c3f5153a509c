/**
 * Benefit curves: how many more memory accesses per second a VM would serve
 * from DRAM with more DRAM pages. A curve is a list of segments, hottest first:
 * `[pages, accessesPerSecPerPage]` means "the next `pages` pages of DRAM each
 * catch that many accesses/s". Because segments are sorted by rate, falling,
 * the curve is concave, so greedy allocation over curves is optimal.
 *
 * The engine's bucket sort already counts pages per temperature; a curve is
 * that histogram weighted by the access rate of one page at each temperature.
 */

/** [pages, accesses per second of each of those pages]. */
export type CurveSegment = readonly [pages: number, ratePerPage: number];
export type BenefitCurve = readonly CurveSegment[];

/** The part of an engine window snapshot a curve and a pool report are made from. */
export interface WindowFigures {
  dramPages: number;
  nvmPages: number;
  quotaPages: number;
  hotSetPages: number;
  /** Pages per temperature bucket (index = temperature 0..255). */
  histogram: ArrayLike<number>;
  /** The same, pages in DRAM only. */
  dramHistogram: ArrayLike<number>;
  /** Estimated accesses/s of one page at each temperature. */
  accessRatePerPage: ArrayLike<number>;
  /** Pages needed beyond the histogram's hot ones (the moving hot windows' leads). */
  reservedPages?: number;
  /**
   * Followed streams with a measured rate (plugin/engine/stream-value.ts): the
   * stream follower's pages and what each is worth; their leads are part of
   * reservedPages.
   */
  streams?: readonly { pages: number; leadPages: number; ratePerPage: number }[];
  /** Pages by temperature that the streams' values replace (they are in `histogram` too). */
  streamHistogram?: ArrayLike<number>;
  migratedPagesPerSec: number;
}

/**
 * The benefit curve of a snapshot, over absolute DRAM pages: benefit(q) is
 * the accesses/s the q hottest pages take. Buckets with no pages or no
 * accesses are left out (they add nothing); equal rates are merged.
 *
 * A followed stream's pages are worth its passes, not their temperature (a
 * page is in a moving window too briefly to warm up to its rate, and stays
 * warm a while after the window has left it for good): the engine values
 * them (plugin/engine/stream-value.ts) and says which pages by temperature
 * that replaces, taken out of the histogram's buckets here. Lead pages of
 * streams without a measured rate are valued at the hottest rate on the curve.
 */
export function benefitCurveFromHistogram(
  s: Pick<WindowFigures, 'histogram' | 'accessRatePerPage' | 'reservedPages' | 'streams' | 'streamHistogram'>,
): CurveSegment[] {
  const buckets: Array<[number, number]> = [];
  const n = Math.min(s.histogram.length, s.accessRatePerPage.length);
  const streams = s.streams ?? [];
  const inStreams = streams.length > 0 ? s.streamHistogram : undefined;
  let hottest = 0;
  for (let t = 0; t < n; t++) {
    const pages = s.histogram[t]! - Math.min(s.histogram[t]!, inStreams?.[t] ?? 0);
    const rate = s.accessRatePerPage[t]!;
    if (pages > 0 && rate > 0 && Number.isFinite(rate)) {
      buckets.push([pages, rate]);
      hottest = Math.max(hottest, rate);
    }
  }
  let measuredLead = 0;
  for (const st of streams) {
    if (!(st.pages > 0 && st.ratePerPage > 0 && Number.isFinite(st.ratePerPage))) continue;
    buckets.push([Math.floor(st.pages), st.ratePerPage]);
    hottest = Math.max(hottest, st.ratePerPage);
    measuredLead += st.leadPages;
  }
  // Pages a moving hot window will reach, its rate unmeasured: worth what the hottest pages are now.
  const reserved = Math.floor(Math.max(0, (s.reservedPages ?? 0) - measuredLead));
  if (reserved > 0 && hottest > 0) buckets.push([reserved, hottest]);
  return normalizeCurve(buckets);
}

/** Sorts segments by rate (falling), drops empty ones and merges equal rates: a concave curve. */
export function normalizeCurve(segments: Iterable<CurveSegment>): CurveSegment[] {
  const sorted = [...segments].filter(([p, r]) => p > 0 && r > 0).sort((a, b) => b[1] - a[1]);
  const out: Array<[number, number]> = [];
  for (const [pages, rate] of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === rate) last[0] += pages;
    else out.push([Math.floor(pages), rate]);
  }
  return out;
}

/** Accesses/s served from DRAM by the `pages` hottest pages. */
export function curveBenefit(curve: BenefitCurve, pages: number): number {
  let left = pages;
  let sum = 0;
  for (const [p, r] of curve) {
    if (left <= 0) break;
    const take = Math.min(p, left);
    sum += take * r;
    left -= take;
  }
  return sum;
}

/** Accesses/s of all pages on the curve (everything in DRAM). */
export function curveTotal(curve: BenefitCurve): number {
  let sum = 0;
  for (const [p, r] of curve) sum += p * r;
  return sum;
}

/** Pages on the curve (pages with any accesses). */
export function curvePages(curve: BenefitCurve): number {
  let sum = 0;
  for (const [p] of curve) sum += p;
  return sum;
}

/** Default latencies for the slowdown estimate (ns per access reaching memory). */
export const DEFAULT_DRAM_LATENCY_NS = 80;
export const DEFAULT_NVM_LATENCY_NS = 300;

/**
 * Memory-stall slowdown against an all-DRAM VM: time spent waiting on memory
 * with the current placement over the time with everything in DRAM. An upper
 * bound of the real slowdown (CPU time is not counted), 1 = as fast as DRAM.
 */
export function stallSlowdown(
  totalAccessesPerSec: number,
  dramAccessesPerSec: number,
  dramLatencyNs = DEFAULT_DRAM_LATENCY_NS,
  nvmLatencyNs = DEFAULT_NVM_LATENCY_NS,
): number {
  if (totalAccessesPerSec <= 0) return 1;
  const fromDram = Math.min(dramAccessesPerSec, totalAccessesPerSec);
  const stall = fromDram * dramLatencyNs + (totalAccessesPerSec - fromDram) * nvmLatencyNs;
  return stall / (totalAccessesPerSec * dramLatencyNs);
}

/** Accesses/s of the pages a histogram counts (e.g. the DRAM-only histogram). */
export function histogramAccesses(histogram: ArrayLike<number>, rate: ArrayLike<number>): number {
  let sum = 0;
  const n = Math.min(histogram.length, rate.length);
  for (let t = 0; t < n; t++) sum += histogram[t]! * rate[t]!;
  return sum;
}
