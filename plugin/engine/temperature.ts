/**
 * Page temperature: a small integer (0..255) from a page's recent access
 * history. Each time a page is scanned for a window its temperature ages
 * (halves) and gains the window's evidence:
 *
 *   t' = t - (t >> AGING_SHIFT) + READ_WEIGHT * roundsAccessed + WRITE_WEIGHT * roundsWritten
 *
 * A written round counts three times a read-only one (written rounds are also
 * accessed rounds): Optane's write bandwidth is about a third of its read
 * bandwidth (12.5 vs 37.6 GB/s per socket, see plugin/sim/tiers.ts), so a
 * write-hot page left in NVM costs the most. With 8 rounds a window, a page
 * touched every round settles at 32 (read-only) or 96 (written), and a page
 * that cools loses half its temperature per window.
 */
export const AGING_SHIFT = 1;
export const READ_WEIGHT = 2;
export const WRITE_WEIGHT = 4;
export const TEMPERATURE_LEVELS = 256;

export function nextTemperature(t: number, roundsAccessed: number, roundsWritten: number): number {
  const next = t - (t >>> AGING_SHIFT) + READ_WEIGHT * roundsAccessed + WRITE_WEIGHT * roundsWritten;
  return next > 255 ? 255 : next;
}

/**
 * Estimated accesses per second of one page at each temperature, for the
 * pool's benefit curves. Inverts the steady state of nextTemperature for a
 * read-only page: t = 2^AGING_SHIFT * READ_WEIGHT * rounds, and counts one
 * access per round seen (a lower bound: the accessed bit saturates).
 */
export function accessRatePerPage(roundsPerWindow: number, windowSeconds: number): Float64Array {
  const rate = new Float64Array(TEMPERATURE_LEVELS);
  const steadyPerRound = (1 << AGING_SHIFT) * READ_WEIGHT;
  for (let t = 0; t < TEMPERATURE_LEVELS; t++) {
    const rounds = Math.min(roundsPerWindow, t / steadyPerRound);
    rate[t] = rounds / windowSeconds;
  }
  return rate;
}
