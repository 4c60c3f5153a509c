/** The engine's totals as flat numbers: what every driver reports, logs and tabulates. */
import type { EngineTotals } from '../engine/run.js';

/** Every numeric field of the totals (drops the list of recent failure messages). */
export function flattenTotals(totals: EngineTotals): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(totals)) if (typeof v === 'number') out[k] = v;
  return out;
}
