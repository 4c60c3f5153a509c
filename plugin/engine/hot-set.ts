/**
 * The hot set by bucket sort: with pages counted per temperature (the
 * histogram the window pass already built), walk from the hottest bucket down
 * until the DRAM quota is full. O(256) given the histogram; no comparison sort.
 *
 * The hot set is every page hotter than `threshold` plus `takeAtThreshold`
 * pages at `threshold`. Pages at temperature 0 (not seen lately) are never hot.
 */
export interface HotSetCut {
  readonly threshold: number;
  readonly takeAtThreshold: number;
  readonly size: number;
}

export function hotSetCut(histogram: ArrayLike<number>, quotaPages: number, minTemperature = 1): HotSetCut {
  let size = 0;
  for (let t = histogram.length - 1; t >= minTemperature; t--) {
    const pages = histogram[t]!;
    if (size + pages > quotaPages) {
      return { threshold: t, takeAtThreshold: quotaPages - size, size: quotaPages };
    }
    size += pages;
  }
  return { threshold: minTemperature, takeAtThreshold: histogram[minTemperature] ?? 0, size };
}
