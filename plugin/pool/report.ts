/**
 * What a manager sends the pool after each engine window: the window's
 * figures, the benefit curve and the histogram (for the dashboard).
 */
import { benefitCurveFromHistogram, histogramAccesses, type WindowFigures } from './curve.js';
import type { ReportMessage } from './wire.js';

/** Report body (without the sequence number, which the client adds) from an engine window snapshot. */
export function reportFromWindow(s: WindowFigures): Omit<ReportMessage, 'type' | 'seq'> {
  return {
    dramPages: s.dramPages,
    nvmPages: s.nvmPages,
    quotaPages: s.quotaPages,
    hotSetPages: s.hotSetPages,
    curve: benefitCurveFromHistogram(s),
    histogram: Array.from(s.histogram),
    accessesPerSec: histogramAccesses(s.histogram, s.accessRatePerPage),
    dramAccessesPerSec: histogramAccesses(s.dramHistogram, s.accessRatePerPage),
    migratedPagesPerSec: s.migratedPagesPerSec,
  };
}
