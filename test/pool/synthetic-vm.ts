/**
 * A stand-in for an engine window in pool tests: a VM whose hot set is `hot`
 * pages at temperature 200 (and the rest cold), with DRAM filled hottest
 * first up to its quota. Produces the same figures an engine snapshot does.
 */
import type { WindowFigures } from '../../plugin/pool/curve.js';

const RATES = (() => {
  const r = new Float64Array(256);
  for (let t = 1; t < 256; t++) r[t] = t * 2; // accesses/s of one page at temperature t
  return r;
})();

export function syntheticWindow(pageCount: number, hot: number, quotaPages: number, migratedPagesPerSec = 0): WindowFigures {
  const histogram = new Uint32Array(256);
  const dramHistogram = new Uint32Array(256);
  const warm = Math.min(pageCount - hot, Math.floor(hot / 2));
  histogram[200] = hot;
  histogram[40] = warm;
  histogram[0] = pageCount - hot - warm;
  let left = Math.min(quotaPages, pageCount);
  for (const t of [200, 40, 0]) {
    const n = Math.min(left, histogram[t]!);
    dramHistogram[t] = n;
    left -= n;
  }
  const dramPages = Math.min(quotaPages, pageCount);
  return {
    dramPages,
    nvmPages: pageCount - dramPages,
    quotaPages,
    hotSetPages: Math.min(hot, quotaPages),
    histogram,
    dramHistogram,
    accessRatePerPage: RATES,
    migratedPagesPerSec,
  };
}
