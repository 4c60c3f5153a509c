// hmmv pool dashboard: history of the pool since the page was opened (at most
// HISTORY_SECONDS, one sample per second per VM) and SVG line charts with
// axes and units. Long-term history is Prometheus's job: scrape /metrics.
export const HISTORY_SECONDS = 900;
const NS = 'http://www.w3.org/2000/svg';

/** Samples of each VM: time (ms), DRAM share (%), migrations (pages/s), DRAM hit ratio (%). */
export class PoolHistory {
  constructor(nowMs = () => Date.now()) {
    this.nowMs = nowMs;
    this.lastAt = -Infinity;
    /** @type {Map<string, {t:number, share:number, migr:number, hit:number|null}[]>} */
    this.vms = new Map();
  }

  /** Adds the state's figures if a second passed since the last sample. Returns whether it did. */
  add(state) {
    const now = this.nowMs();
    if (now - this.lastAt < 1000) return false;
    this.lastAt = now;
    for (const v of state.vms) {
      const points = this.vms.get(v.domain) ?? [];
      points.push({
        t: now,
        share: state.poolPages > 0 ? (100 * v.quotaPages) / state.poolPages : 0,
        migr: v.migratedPagesPerSec,
        hit: v.accessesPerSec > 0 ? (100 * v.dramAccessesPerSec) / v.accessesPerSec : null,
      });
      while (points.length > 0 && points[0].t < now - HISTORY_SECONDS * 1000) points.shift();
      this.vms.set(v.domain, points);
    }
    return true;
  }

  /** One series per VM for `field`, in the VMs' order. */
  series(field, colorOf) {
    return [...this.vms.entries()].map(([domain, points]) => ({
      name: domain,
      color: colorOf(domain),
      points: points.filter((p) => p[field] !== null).map((p) => [p.t, p[field]]),
    }));
  }
}

/** 0, 1, 2, 5, 10, 20, 50 ... : a tick step giving about `count` ticks up to `max`. */
export function niceStep(max, count = 4) {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

const fmtTick = (v) => (v >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(2)}`);
const svgEl = (tag, attrs = {}, text) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
};

/**
 * A line chart: x is time (seconds before now), y the series' values in
 * `unit`, from 0 to `yMax` (or the data's maximum), ticks and labels on both axes.
 */
export function lineChart({ id, title, unit, yMax, series, nowMs = Date.now(), spanSec }) {
  const W = 640;
  const H = 220;
  const L = 56;
  const R = 12;
  const T = 26;
  const B = 38;
  const svg = svgEl('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, 'data-testid': `chart-${id}`, role: 'img', 'aria-label': `${title} (${unit})` });
  svg.appendChild(svgEl('text', { x: L, y: 16, class: 'chart-title' }, `${title} (${unit})`));
  const all = series.flatMap((s) => s.points);
  const oldest = all.length ? Math.min(...all.map((p) => p[0])) : nowMs;
  const span = Math.max(spanSec ?? 0, 10, Math.ceil((nowMs - oldest) / 1000));
  // An all-zero series still gets a readable axis (0 .. 10).
  const top = yMax ?? Math.max(10, ...all.map((p) => p[1]));
  const step = niceStep(top, 5);
  const yTop = yMax ?? Math.max(step, Math.ceil(top / step) * step);
  const x = (t) => L + ((W - L - R) * (span - (nowMs - t) / 1000)) / span;
  const y = (v) => T + (H - T - B) * (1 - Math.min(v, yTop) / yTop);

  // Axes, grid and ticks.
  const axes = svgEl('g', { class: 'axes' });
  axes.appendChild(svgEl('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis', 'data-axis': 'y' }));
  axes.appendChild(svgEl('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis', 'data-axis': 'x' }));
  for (let v = 0; v <= yTop + 1e-9; v += niceStep(yTop, 5)) {
    axes.appendChild(svgEl('line', { x1: L, y1: y(v), x2: W - R, y2: y(v), class: 'grid' }));
    axes.appendChild(svgEl('text', { x: L - 6, y: y(v) + 4, class: 'tick y-tick', 'text-anchor': 'end' }, fmtTick(v)));
  }
  const xStep = niceStep(span, 5);
  for (let s = 0; s <= span; s += xStep) {
    const px = L + ((W - L - R) * (span - s)) / span;
    axes.appendChild(svgEl('line', { x1: px, y1: H - B, x2: px, y2: H - B + 4, class: 'axis' }));
    axes.appendChild(svgEl('text', { x: px, y: H - B + 16, class: 'tick x-tick', 'text-anchor': 'middle' }, s === 0 ? 'now' : `-${s}`));
  }
  axes.appendChild(svgEl('text', { x: (L + W - R) / 2, y: H - 4, class: 'axis-label', 'text-anchor': 'middle', 'data-label': 'x' }, 'time (seconds ago)'));
  axes.appendChild(
    svgEl('text', { x: 12, y: (T + H - B) / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 12 ${(T + H - B) / 2})`, 'data-label': 'y' }, unit),
  );
  svg.appendChild(axes);

  if (!series.some((s) => s.points.length > 0))
    svg.appendChild(svgEl('text', { x: (L + W - R) / 2, y: (T + H - B) / 2, class: 'no-data', 'text-anchor': 'middle' }, 'no data reported yet'));
  // One line per series; a single point is drawn as a dot.
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const line = svgEl('polyline', { points: pts, fill: 'none', stroke: s.color, 'stroke-width': 2, 'data-series': s.name, 'data-count': s.points.length });
    line.appendChild(svgEl('title', {}, s.name));
    svg.appendChild(line);
    const [lt, lv] = s.points[s.points.length - 1];
    svg.appendChild(svgEl('circle', { cx: x(lt), cy: y(lv), r: 2.5, fill: s.color }));
  }
  return svg;
}
