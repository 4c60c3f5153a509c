/**
 * What a window's evidence says about a page, 32 pages at a time: the rounds
 * it was seen in (PageState.reads, bit-sliced, plus PageState.everyRound for
 * pages seen in every round so far) compared with a threshold.
 */
import type { PageState } from './page-state.js';

/** Bits of a word whose bit-sliced 4-bit counter (planes a..d, least significant first) is at least k. */
export function counterAtLeast(a: number, b: number, c: number, d: number, k: number): number {
  if (k <= 0) return ~0;
  if (k > 15) return 0;
  // Compare from the most significant plane down: "greater so far" and "equal so far".
  let greater = 0;
  let equal = ~0;
  if (k & 8) equal &= d; else { greater |= equal & d; equal &= ~d; }
  if (k & 4) equal &= c; else { greater |= equal & c; equal &= ~c; }
  if (k & 2) equal &= b; else { greater |= equal & b; equal &= ~b; }
  if (k & 1) equal &= a; else { greater |= equal & a; equal &= ~a; }
  return greater | equal;
}

/** The due pages of word `w` seen in at least `k` rounds of this window so far (read before the window closes). */
export function seenAtLeast(state: PageState, w: number, k: number): number {
  const scanned = state.scan[w]!;
  if (scanned === 0) return 0;
  const { reads } = state;
  const i = w << 2;
  const explicit = counterAtLeast(reads[i]!, reads[i + 1]!, reads[i + 2]!, reads[i + 3]!, k);
  const every = state.roundsThisWindow > 0 && state.roundsThisWindow >= k ? state.everyRound[w]! : 0;
  return scanned & (explicit | every);
}
