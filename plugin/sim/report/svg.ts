/**
 * SVG charts of the report, written by hand (no dependency): grouped bars of
 * slowdown per VM and policy, and slowdown vs DRAM fraction curves.
 */
import type { CoRunTable, SweepCurve } from './summary.js';

const COLORS: Readonly<Record<string, string>> = {
  'all-dram': '#7f7f7f',
  unmanaged: '#bcbd22',
  hmmv: '#d62728',
  'numa-balancing': '#1f77b4',
  tpp: '#17becf',
  'memory-mode': '#9467bd',
  memtierd: '#8c564b',
  'memtierd-sample': '#c49c94',
  damon: '#2ca02c',
  oracle: '#000000',
};
const color = (policy: string): string => COLORS[policy] ?? '#e377c2';
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

/** A y axis from 1 to a round maximum above `max`. */
function yScale(max: number): { top: number; ticks: number[] } {
  const top = Math.max(1.5, Math.ceil(max * 4) / 4);
  const step = top <= 2 ? 0.25 : top <= 4 ? 0.5 : 1;
  const ticks: number[] = [];
  for (let t = 1; t <= top + 1e-9; t += step) ticks.push(t);
  return { top, ticks };
}

function legend(policies: readonly string[], x: number, y: number): string {
  return policies
    .map((p, i) => `<rect x="${x}" y="${y + i * 16}" width="10" height="10" fill="${color(p)}"/><text x="${x + 14}" y="${y + i * 16 + 9}" font-size="11">${esc(p)}</text>`)
    .join('');
}

export function slowdownBars(table: CoRunTable, title: string): string {
  const groups = [...table.vms, 'geomean'];
  const policies = table.policies;
  const W = 900;
  const H = 380;
  const left = 50;
  const right = 140;
  const top = 30;
  const bottom = 50;
  const max = Math.max(...policies.flatMap((p) => groups.map((g) => table.slowdown[p]?.[g] ?? 1)).filter(Number.isFinite));
  const { top: yTop, ticks } = yScale(max);
  const plotH = H - top - bottom;
  const y = (v: number): number => top + plotH * (1 - (Math.min(v, yTop) - 1) / (yTop - 1));
  const groupW = (W - left - right) / groups.length;
  const barW = (groupW * 0.8) / policies.length;
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (const t of ticks) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${t.toFixed(2)}x</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + groupW * 0.1;
    policies.forEach((p, pi) => {
      const v = table.slowdown[p]?.[g] ?? NaN;
      if (!Number.isFinite(v)) return;
      const x = gx + pi * barW;
      const yv = y(Math.max(1, v));
      parts.push(`<rect x="${x.toFixed(1)}" y="${yv.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(y(1) - yv).toFixed(1)}" fill="${color(p)}"><title>${esc(p)} ${esc(g)}: ${fmt(v)}x</title></rect>`);
    });
    parts.push(`<text x="${left + gi * groupW + groupW / 2}" y="${H - bottom + 16}" text-anchor="middle" font-size="11">${esc(g)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(1)}" y2="${y(1)}" stroke="#000"/>`);
  parts.push(`<text x="14" y="${top + plotH / 2}" font-size="11" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">slowdown vs all-DRAM (lower is better)</text>`);
  parts.push(legend(policies, W - right + 12, top));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${parts.join('')}</svg>\n`;
}

export function sweepChart(curve: SweepCurve, title: string): string {
  const W = 640;
  const H = 380;
  const left = 50;
  const right = 140;
  const top = 30;
  const bottom = 45;
  const policies = Object.keys(curve.slowdown);
  const max = Math.max(...policies.flatMap((p) => curve.slowdown[p]!).filter(Number.isFinite), 1);
  const { top: yTop, ticks } = yScale(max);
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const x = (f: number): number => left + plotW * f;
  const y = (v: number): number => top + plotH * (1 - (Math.min(v, yTop) - 1) / (yTop - 1));
  const parts: string[] = [`<text x="${W / 2 - 40}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`];
  for (const t of ticks) parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${t.toFixed(2)}x</text>`);
  for (const f of [0, 0.25, 0.5, 0.75, 1]) parts.push(`<text x="${x(f)}" y="${H - bottom + 16}" text-anchor="middle" font-size="11">${Math.round(f * 100)}%</text>`);
  parts.push(`<text x="${left + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="11">host DRAM, % of the VM's footprint</text>`);
  for (const p of policies) {
    const pts = curve.fractions.map((f, i) => [x(f), y(curve.slowdown[p]![i]!)] as const).filter(([, yv]) => Number.isFinite(yv));
    if (pts.length === 0) continue;
    parts.push(`<polyline fill="none" stroke="${color(p)}" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`);
    for (const [a, b] of pts) parts.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${color(p)}"/>`);
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#000"/><line x1="${left}" x2="${left + plotW}" y1="${y(1)}" y2="${y(1)}" stroke="#000"/>`);
  parts.push(legend(policies, W - right + 12, top));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${parts.join('')}</svg>\n`;
}
