/**
 * How long the numa_balancing=2 baseline is watched, so the kernel gets a
 * fair chance: at least as long as the slowest hmmv domain needed to
 * converge in the same run (and never less than `floorS`: the floor only
 * guards a run where hmmv was quick; fairness is the rule above), at most `capS`;
 * and it ends early once every hot region has been 99% on DRAM for
 * `holdSamples` samples in a row (nothing more to learn). Pure; O(samples).
 */
export interface BaselineWindowOptions {
  floorS: number;
  capS: number;
  holdSamples: number;
}

export const BASELINE_WINDOW: BaselineWindowOptions = { floorS: 60, capS: 300, holdSamples: 10 };

/** Seconds to watch the baseline given hmmv's convergence times in this run (undefined: did not converge). */
export function baselineSeconds(hmmvConvergeS: readonly (number | undefined)[], o: BaselineWindowOptions = BASELINE_WINDOW): number {
  const slowest = hmmvConvergeS.some((s) => s === undefined) ? o.capS : Math.max(0, ...(hmmvConvergeS as number[]));
  return Math.min(o.capS, Math.max(o.floorS, Math.ceil(slowest)));
}

/** Every domain's last `holdSamples` samples have its hot region 99% on DRAM. */
export function baselineSettled(series: readonly { hotOnDram: number }[][], hotPages: readonly number[], o: BaselineWindowOptions = BASELINE_WINDOW): boolean {
  return series.every((s, i) => s.length >= o.holdSamples && s.slice(-o.holdSamples).every((p) => p.hotOnDram >= 0.99 * hotPages[i]!));
}
