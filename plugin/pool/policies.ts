/**
 * Pool policies: pure functions that divide a host's DRAM pool (in pages)
 * among VMs. Every policy honours each VM's [min, max] bounds (max is also
 * capped by the VM's size) and never hands out more than the pool.
 *
 * - `utility`: maximise the host's overall performance, taken as the
 *   geometric mean of the VMs' speeds (each relative to itself, so a VM with
 *   many cheap operations does not outweigh one with few costly ones, as a sum
 *   of throughputs would). A page of VM i moved to DRAM saves (its accesses
 *   per second) x (NVM - DRAM latency) of every second of i's time, which is
 *   what it adds to log(speed_i) at the current allocation: so the sum of the
 *   logs, to first order, is the latency gap times the accesses/s served from
 *   DRAM over all VMs, whatever their op rates. The pool re-plans every
 *   interval from fresh curves, so the first-order step is taken again where
 *   it lands. Curves are the engines' (accesses/s per page from the sieve's
 *   log-scale counts, not one access per round). Greedy over the curves (take
 *   the page with the highest marginal benefit next); optimal because the
 *   curves are concave. Moving quota costs copies (the donor demotes, the
 *   receiver promotes), so pages a VM holds now count `moveCostRate` more
 *   (the accesses/s a moved page must gain to pay its copies back, see
 *   QUOTA_MOVE_PAYBACK_SEC): quota only moves for a real gain, not for noise. Pages nobody
 *   benefits from are then spread evenly as headroom.
 * - `fair`: max-min fairness over hot sets. Every VM is given the same amount
 *   until its hot set is covered (water filling), so a VM that wants at least
 *   pool/n pages gets at least pool/n; the rest is spread evenly.
 * - `weighted`: like `fair`, but the water level rises in proportion to each
 *   VM's weight (from its domain metadata), so a weight-2 VM gets twice the
 *   share of a weight-1 VM while both want more.
 *
 * `stepQuotas` then turns a target into the next quotas: hysteresis (ignore
 * small changes) and bounded moves (what the migrators can move per step).
 */
import { type BenefitCurve } from './curve.js';

export const POLICY_NAMES = ['utility', 'fair', 'weighted'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface VmDemand {
  /** Guest pages: no quota above this is useful. */
  pageCount: number;
  hotSetPages: number;
  minPages: number;
  maxPages: number;
  weight: number;
  /** Benefit over absolute DRAM pages (normalised: rates falling). */
  curve: BenefitCurve;
  /** The VM's quota now (utility: pages it keeps need not be moved). */
  currentPages?: number;
}

export interface AllocateOptions {
  /** utility: extra value of a page a VM already holds, in accesses/s (the cost of moving it, see the header). */
  moveCostRate?: number;
}

/** A quota move's copies: the donor demotes a page and the receiver promotes one, each a page copy at this speed. */
export const QUOTA_MOVE_COPY_BYTES_PER_SEC = 4e9;
/**
 * ...paid back within this long by the accesses the page serves from DRAM: a
 * third of a second, because the curves' rates come from log-scale counts
 * (one round is about a factor of two) and a gain must clear the copy cost by
 * that much to be a gain, not an estimate's error. With 1 s the pool traded
 * pages between four VMs whose marginal pages were worth the same and ended
 * 0.1% behind the static split.
 */
export const QUOTA_MOVE_PAYBACK_SEC = 0.3;

/**
 * moveCostRate for `utility`: the accesses/s a page moved between VMs must
 * gain to pay for its two copies within QUOTA_MOVE_PAYBACK_SEC, each access
 * saving the NVM - DRAM latency gap. About 30/s for 4 KiB pages and 80/300 ns.
 */
export function quotaMoveCostRate(pageSizeBytes: number, latencyNs: { dram: number; nvm: number }): number {
  const gapSec = (latencyNs.nvm - latencyNs.dram) * 1e-9;
  if (!(gapSec > 0)) return 0;
  const copySec = (2 * pageSizeBytes) / QUOTA_MOVE_COPY_BYTES_PER_SEC;
  return copySec / (gapSec * QUOTA_MOVE_PAYBACK_SEC);
}

/** Adds `bonus` to the rate of the first `pages` pages of a curve (stays concave: rates still fall). */
export function withIncumbency(curve: BenefitCurve, pages: number, bonus: number): BenefitCurve {
  if (!(bonus > 0) || !(pages > 0)) return curve;
  const out: Array<[number, number]> = [];
  let left = Math.floor(pages);
  for (const [p, r] of curve) {
    const held = Math.min(p, Math.max(0, left));
    if (held > 0) out.push([held, r + bonus]);
    if (p - held > 0) out.push([p - held, r]);
    left -= held;
  }
  // Held pages beyond the curve (no accesses seen) are still worth keeping for the cost of moving them.
  if (left > 0) out.push([left, bonus]);
  return out;
}

/** Effective bounds: max capped by the VM's size; mins scaled down if they do not fit in the pool. */
export function effectiveBounds(poolPages: number, vms: readonly VmDemand[]): { lo: number[]; hi: number[] } {
  const hi = vms.map((v) => Math.max(0, Math.floor(Math.min(v.maxPages, v.pageCount))));
  let lo = vms.map((v, i) => Math.max(0, Math.min(Math.floor(v.minPages), hi[i]!)));
  const sumLo = lo.reduce((a, b) => a + b, 0);
  if (sumLo > poolPages) lo = lo.map((l) => Math.floor((l * poolPages) / sumLo));
  return { lo, hi };
}

/**
 * Weighted water filling: raises every q[i] from lo[i] towards hi[i] so that
 * min(q[i] / w[i]) is as high as possible, handing out at most `budget` pages
 * in total (including what lo already holds). Integer pages; the last few
 * pages go to the VMs furthest below the level.
 */
export function waterFill(lo: readonly number[], hi: readonly number[], w: readonly number[], budget: number): number[] {
  const n = lo.length;
  const q = lo.slice();
  const base = lo.reduce((a, b) => a + b, 0);
  const cap = hi.map((h, i) => Math.max(h, lo[i]!));
  const sumCap = cap.reduce((a, b) => a + b, 0);
  if (budget <= base) return q;
  if (budget >= sumCap) return cap;
  const at = (level: number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.min(cap[i]!, Math.max(lo[i]!, Math.floor(level * w[i]!)));
    return s;
  };
  // Bisection for the highest level whose fill fits the budget.
  let low = 0;
  let high = 1;
  while (at(high) <= budget && high < 1e18) high *= 2;
  for (let k = 0; k < 200 && high - low > 1e-9 * Math.max(1, high); k++) {
    const mid = (low + high) / 2;
    if (at(mid) <= budget) low = mid;
    else high = mid;
  }
  let used = 0;
  for (let i = 0; i < n; i++) {
    q[i] = Math.min(cap[i]!, Math.max(lo[i]!, Math.floor(low * w[i]!)));
    used += q[i]!;
  }
  // The remainder (fewer pages than VMs at the next step of the level).
  let rest = budget - used;
  while (rest > 0) {
    let best = -1;
    for (let i = 0; i < n; i++) {
      if (q[i]! >= cap[i]!) continue;
      if (best < 0 || (q[i]! + 1) / w[i]! < (q[best]! + 1) / w[best]!) best = i;
    }
    if (best < 0) break;
    q[best]!++;
    rest--;
  }
  return q;
}

/**
 * `utility`: greedy over the curves above each VM's minimum, then even headroom.
 * Each curve is already sorted by rate, so the greedy walk is a k-way merge:
 * a max-heap of VMs keyed by the rate of their next segment, O(S log n).
 */
export function allocateUtility(poolPages: number, input: readonly VmDemand[], moveCostRate = 0): number[] {
  const vms = moveCostRate > 0 ? input.map((v) => ({ ...v, curve: withIncumbency(v.curve, v.currentPages ?? 0, moveCostRate) })) : input;
  const { lo, hi } = effectiveBounds(poolPages, vms);
  const n = vms.length;
  const q = lo.slice();
  let budget = poolPages - q.reduce((a, b) => a + b, 0);
  // Per VM: index of its next segment and pages of it already passed (below lo or taken).
  const seg = new Int32Array(n);
  const used = new Float64Array(n);
  // Skip what lies below lo (the minimum is given anyway).
  const skipTo = (i: number, pagesFromZero: number): void => {
    const c = vms[i]!.curve;
    let start = 0;
    let k = 0;
    while (k < c.length && start + c[k]![0] <= pagesFromZero) start += c[k++]![0];
    seg[i] = k;
    used[i] = pagesFromZero - start;
  };
  // The heap key: rate of the VM's next segment, -1 once it is full or its curve ends.
  const key = new Float64Array(n);
  const rekey = (i: number): void => {
    const c = vms[i]!.curve;
    key[i] = q[i]! < hi[i]! && seg[i]! < c.length ? c[seg[i]!]![1] : -1;
  };
  const better = (a: number, b: number): boolean => key[a]! > key[b]! || (key[a] === key[b] && a < b);
  const heap: number[] = [];
  const down = (k: number): void => {
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let m = k;
      if (l < heap.length && better(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && better(heap[r]!, heap[m]!)) m = r;
      if (m === k) return;
      [heap[k], heap[m]] = [heap[m]!, heap[k]!];
      k = m;
    }
  };
  for (let i = 0; i < n; i++) {
    skipTo(i, lo[i]!);
    rekey(i);
    heap.push(i);
  }
  for (let k = (heap.length >> 1) - 1; k >= 0; k--) down(k);
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      down(0);
    }
    return top;
  };
  const push = (i: number): void => {
    heap.push(i);
    for (let k = heap.length - 1; k > 0; ) {
      const parent = (k - 1) >> 1;
      if (!better(heap[k]!, heap[parent]!)) break;
      [heap[k], heap[parent]] = [heap[parent]!, heap[k]!];
      k = parent;
    }
  };
  while (budget > 0 && heap.length > 0) {
    const rate = key[heap[0]!]!;
    if (rate <= 0) break;
    // Every VM whose next pages are worth this rate: equal value, so they share the budget evenly
    // (the index order of the VMs must not decide who gets DRAM).
    const group: number[] = [];
    while (heap.length > 0 && key[heap[0]!] === rate) group.push(pop());
    const room = group.map((i) => Math.min(vms[i]!.curve[seg[i]!]![0] - used[i]!, hi[i]! - q[i]!));
    const give = waterFill(group.map(() => 0), room, group.map(() => 1), budget);
    group.forEach((i, k) => {
      const take = give[k]!;
      q[i]! += take;
      budget -= take;
      used[i]! += take;
      if (used[i]! >= vms[i]!.curve[seg[i]!]![0]) {
        seg[i]!++;
        used[i] = 0;
      }
      rekey(i);
      push(i);
    });
    if (give.every((x, k) => x < room[k]!)) break; // budget spent inside this rate level
  }
  return waterFill(q, hi, vms.map(() => 1), poolPages);
}

/** `fair`: max-min over hot sets, then even headroom. */
export function allocateFair(poolPages: number, vms: readonly VmDemand[]): number[] {
  const { lo, hi } = effectiveBounds(poolPages, vms);
  const ones = vms.map(() => 1);
  const want = vms.map((v, i) => Math.min(hi[i]!, Math.max(lo[i]!, Math.floor(v.hotSetPages))));
  return waterFill(waterFill(lo, want, ones, poolPages), hi, ones, poolPages);
}

/** `weighted`: weighted max-min over hot sets, then headroom by weight. */
export function allocateWeighted(poolPages: number, vms: readonly VmDemand[]): number[] {
  const { lo, hi } = effectiveBounds(poolPages, vms);
  const w = vms.map((v) => (v.weight > 0 && Number.isFinite(v.weight) ? v.weight : 1));
  const want = vms.map((v, i) => Math.min(hi[i]!, Math.max(lo[i]!, Math.floor(v.hotSetPages))));
  return waterFill(waterFill(lo, want, w, poolPages), hi, w, poolPages);
}

export function allocate(policy: PolicyName, poolPages: number, vms: readonly VmDemand[], options: AllocateOptions = {}): number[] {
  const pool = Math.max(0, Math.floor(poolPages));
  if (vms.length === 0) return [];
  switch (policy) {
    case 'utility':
      return allocateUtility(pool, vms, options.moveCostRate ?? 0);
    case 'fair':
      return allocateFair(pool, vms);
    case 'weighted':
      return allocateWeighted(pool, vms);
  }
}

export interface StepInput {
  /** Quotas now in force. */
  current: number;
  /** What the policy wants. */
  target: number;
  /** Pages this VM's migrator can move in one step. */
  maxStepPages: number;
  /** Pages this VM holds in DRAM now (a shrinking VM holds them until it has demoted). */
  dramPages: number;
}

/**
 * The next quotas on the way to the targets. Changes smaller than
 * `hysteresisPages` are ignored (no oscillation on noise); no quota moves by
 * more than its VM's `maxStepPages`; a growing VM only gets pages that are
 * free now: neither promised to another VM nor still held in DRAM by a
 * shrinking one. The result never sums to more than the pool, and never to
 * more than the current quotas did if those were already over the pool.
 */
export function stepQuotas(poolPages: number, vms: readonly StepInput[], hysteresisPages: number): number[] {
  const next = vms.map((v) => v.current);
  const growing: number[] = [];
  let committed = 0;
  vms.forEach((v, i) => {
    const delta = v.target - v.current;
    const step = Math.max(1, Math.floor(v.maxStepPages));
    if (Math.abs(delta) < hysteresisPages) {
      committed += v.current;
    } else if (delta < 0) {
      next[i] = Math.max(v.target, v.current - step);
      committed += Math.max(next[i]!, Math.min(v.dramPages, v.current));
    } else if (delta > 0) {
      growing.push(i);
      committed += v.current;
    } else committed += v.current;
  });
  const budget = Math.max(0, poolPages - committed);
  if (growing.length > 0 && budget > 0) {
    const want = growing.map((i) => Math.min(vms[i]!.target - vms[i]!.current, Math.max(1, Math.floor(vms[i]!.maxStepPages))));
    const got = waterFill(growing.map(() => 0), want, growing.map(() => 1), budget);
    growing.forEach((i, k) => (next[i] = vms[i]!.current + got[k]!));
  }
  return next;
}
