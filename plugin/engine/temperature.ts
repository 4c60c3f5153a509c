/**
 * Page temperature: a small integer (0..255) from a page's recent access
 * history. Each time a page is scanned for a window its temperature ages
 * (halves) and gains the window's evidence:
 *
 *   t' = t - (t >> AGING_SHIFT) + READ_WEIGHT * roundsAccessed + WRITE_WEIGHT * roundsWritten
 *
 * A written round counts one and a half times a read-only one (written rounds
 * are also accessed rounds): NVM writes are the slowest (Optane's write
 * bandwidth is about a third of its read bandwidth, 12.5 vs 37.6 GB/s per
 * socket, see plugin/sim/machine/tiers.ts), so of two pages seen equally often the
 * written one belongs in DRAM. The bonus is kept small on purpose: a write
 * weight of three times made warm written pages outrank far hotter read-only
 * ones (kv-zipf alone with 10% DRAM: 36% DRAM hits against 85% with this
 * weight and 86% for the oracle).
 *
 * The counts come from the sieve of schedule.ts (rounds of falling length, a
 * page counted while it keeps being seen), so a count is the page's access
 * rate on a log scale: with ratio 2, one more round survived is about twice
 * the rate. With 8 rounds a window, a page that survives them all settles at
 * 32 (read-only) or 48 (written), and a page that cools loses half its
 * temperature per window.
 */
import { rateForRounds, type RoundSchedule } from './schedule.js';

export const AGING_SHIFT = 1;
export const READ_WEIGHT = 2;
export const WRITE_WEIGHT = 1;
export const TEMPERATURE_LEVELS = 256;

/**
 * t aged by one window: it loses 1/2^AGING_SHIFT of itself, and the last
 * point goes too (t - (t >> 1) would keep a page seen once at 1 for good:
 * warm, in the hot set and on the pool's curves forever).
 */
export function cooled(t: number): number {
  return t <= 1 ? 0 : t - (t >>> AGING_SHIFT);
}

export function nextTemperature(t: number, roundsAccessed: number, roundsWritten: number): number {
  const next = cooled(t) + READ_WEIGHT * roundsAccessed + WRITE_WEIGHT * roundsWritten;
  return next > 255 ? 255 : next;
}

/**
 * The temperature a page seen in `hotRounds` rounds of every window settles
 * at (read only). A warm page that was lucky in one window stays below it; a
 * page that turned hot passes it within a window or two.
 */
export function hotTemperature(hotRounds: number): number {
  let t = 0;
  for (let w = 0; w < 32; w++) t = nextTemperature(t, hotRounds, 0);
  return t;
}

/**
 * Estimated accesses per second of one page at each temperature, for the
 * pool's benefit curves. Inverts the steady state of nextTemperature for a
 * read-only page (t = 2^AGING_SHIFT * READ_WEIGHT * rounds survived) and the
 * sieve's expected count for a Poisson access rate (schedule.ts), so the
 * rates span the schedule's range (tens to thousands of accesses per second
 * for an 80 ms window), not one access per round.
 */
export function accessRatePerPage(schedule: RoundSchedule): Float64Array {
  const rate = new Float64Array(TEMPERATURE_LEVELS);
  const steadyPerRound = (1 << AGING_SHIFT) * READ_WEIGHT;
  for (let t = 1; t < TEMPERATURE_LEVELS; t++) rate[t] = rateForRounds(schedule, t / steadyPerRound);
  return rate;
}
