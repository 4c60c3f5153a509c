/**
 * The quota a session runs on and where it came from. Without a pool (or while
 * the pool is away) it is the static quota from the domain's metadata; with a
 * pool it is what the pool pushed, clamped to the domain's own [min, max] and
 * the guest's size: the domain's metadata is the operator's rule, so a pool
 * that asks for more (or less) is not obeyed, and status says `clamped`.
 */

export type QuotaSource = 'static' | 'pool' | 'clamped';

export interface QuotaBounds {
  /** The pool never leaves this VM fewer DRAM pages than this. */
  minPages: number;
  /** The pool never gives it more (the guest's size caps it too). */
  maxPages: number;
  /** Its share of the pool relative to other VMs (the `weighted` policy). */
  weight: number;
}

export interface QuotaInForce {
  pages: number;
  source: QuotaSource;
  /** What the pool asked for when that was clamped. */
  requestedPages?: number;
}

/** Bounds for a VM of `pageCount` pages; unset ones take the defaults (0, the whole guest, weight 1). */
export function quotaBounds(pageCount: number, given: Partial<QuotaBounds> = {}): QuotaBounds {
  const maxPages = Math.min(pageCount, Math.max(0, Math.floor(given.maxPages ?? pageCount)));
  const minPages = Math.min(maxPages, Math.max(0, Math.floor(given.minPages ?? 0)));
  return { minPages, maxPages, weight: given.weight ?? 1 };
}

/** A quota the pool pushed, as the session applies it. A value that is not a whole number >= 0 is refused. */
export function clampPoolQuota(requested: number, bounds: QuotaBounds): QuotaInForce {
  if (!Number.isSafeInteger(requested) || requested < 0) throw new RangeError(`the pool sent quota ${requested}: not a whole number of pages >= 0`);
  const pages = Math.min(bounds.maxPages, Math.max(bounds.minPages, requested));
  return pages === requested ? { pages, source: 'pool' } : { pages, source: 'clamped', requestedPages: requested };
}

/** Quota over a run, for tables: first, last, lowest and highest. */
export class QuotaTrack {
  start: number;
  end: number;
  min: number;
  max: number;

  constructor(pages: number) {
    this.start = this.end = this.min = this.max = pages;
  }

  note(pages: number): void {
    this.end = pages;
    if (pages < this.min) this.min = pages;
    if (pages > this.max) this.max = pages;
  }

  fields(): { quotaStartPages: number; quotaEndPages: number; quotaMinPages: number; quotaMaxPages: number } {
    return { quotaStartPages: this.start, quotaEndPages: this.end, quotaMinPages: this.min, quotaMaxPages: this.max };
  }
}
