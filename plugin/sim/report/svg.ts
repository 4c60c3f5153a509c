/**
 * The SVG charts of `hmmv sim` and `hmmv scenario`, written by hand (no
 * dependency), one writer for both, colours from colours.ts: grouped bars
 * (slowdown per VM and policy, or ops/s without an all-DRAM run), slowdown vs
 * DRAM fraction curves, and speed over time per VM. Every value is checked:
 * a missing or infinite one is left out, never drawn as NaN.
 */
import { policyColour } from './colours.js';
import type { CoRunTable, SweepCurve } from './summary.js';
import type { MachineResult } from '../machine/machine.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

function svg(width: number, height: number, parts: readonly string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`;
}

/** Ticks from `low` to a round maximum above `max`. */
function axis(low: number, max: number): { top: number; ticks: number[] } {
  const span = Math.max(max - low, low === 1 ? 0.5 : 1e-9);
  const raw = span / 5;
  const step = [0.05, 0.1, 0.25, 0.5, 1, 2, 5].find((s) => s >= raw) ?? 10 ** Math.ceil(Math.log10(raw));
  const top = low + Math.ceil(span / step) * step;
  const ticks: number[] = [];
  for (let t = low; t <= top + step / 2; t += step) ticks.push(t);
  return { top, ticks };
}

function legend(policies: readonly string[], x: number, y: number): string {
  return policies
    .map((p, i) => `<rect x="${x}" y="${y + i * 16}" width="10" height="10" fill="${policyColour(p)}"/><text x="${x + 14}" y="${y + i * 16 + 9}" font-size="11">${esc(p)}</text>`)
    .join('');
}

/**
 * Grouped bars: one group per VM (and the geometric mean), one bar per
 * policy, from `base` (1 for slowdowns, 0 for ops/s).
 */
function bars(groups: readonly string[], policies: readonly string[], value: (policy: string, group: string) => number, title: string, yLabel: string, base: number, unit: string): string {
  const W = Math.max(640, 120 + groups.length * (policies.length * 14 + 30));
  const H = 380;
  const left = 60;
  const right = 160;
  const top = 30;
  const bottom = 50;
  const values = policies.flatMap((p) => groups.map((g) => value(p, g))).filter(Number.isFinite);
  const lowest = Math.min(base, ...values);
  const low = base === 1 ? Math.min(1, Math.floor(lowest * 4) / 4) : 0;
  const { top: yTop, ticks } = axis(low, Math.max(base, ...values));
  const plotH = H - top - bottom;
  const y = (v: number): number => top + plotH * (1 - (Math.min(Math.max(v, low), yTop) - low) / (yTop - low));
  const groupW = (W - left - right) / groups.length;
  const barW = (groupW * 0.8) / policies.length;
  const parts: string[] = [`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`];
  for (const t of ticks) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/><text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${unit === 'x' ? `${t.toFixed(2)}x` : t.toExponential(1)}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + groupW * 0.1;
    policies.forEach((p, pi) => {
      const v = value(p, g);
      if (!Number.isFinite(v)) return;
      const x = gx + pi * barW;
      const y0 = y(base);
      const yv = y(v);
      parts.push(`<rect x="${x.toFixed(1)}" y="${Math.min(y0, yv).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${Math.abs(y0 - yv).toFixed(1)}" fill="${policyColour(p)}"><title>${esc(p)} ${esc(g)}: ${unit === 'x' ? `${fmt(v)}x` : v.toFixed(0)}</title></rect>`);
    });
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle" font-size="11">${esc(g)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(base).toFixed(1)}" y2="${y(base).toFixed(1)}" stroke="#000"/>`);
  parts.push(`<text x="14" y="${top + plotH / 2}" font-size="11" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  parts.push(legend(policies, W - right + 12, top));
  return svg(W, H, parts);
}

/** Slowdown vs all-DRAM per VM and policy, and the geometric mean (lower is better). */
export function slowdownBars(table: CoRunTable, title: string): string {
  return bars([...table.vms, 'geomean'], table.policies, (p, g) => table.slowdown[p]?.[g] ?? NaN, title, 'slowdown vs all-DRAM (lower is better)', 1, 'x');
}

/** Operations per second per VM and policy (when there is no all-DRAM run to compare with). */
export function opsBars(table: CoRunTable, title: string): string {
  return bars(table.vms, table.policies, (p, g) => table.opsPerSec[p]?.[g] ?? NaN, title, 'operations per second (higher is better)', 0, 'ops');
}

export function sweepChart(curve: SweepCurve, title: string): string {
  const W = 640;
  const H = 380;
  const left = 50;
  const right = 160;
  const top = 30;
  const bottom = 45;
  const policies = Object.keys(curve.slowdown);
  const values = policies.flatMap((p) => curve.slowdown[p]!).filter(Number.isFinite);
  const low = Math.min(1, Math.floor(Math.min(1, ...values) * 4) / 4);
  const { top: yTop, ticks } = axis(low, Math.max(1, ...values));
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const x = (f: number): number => left + plotW * f;
  const y = (v: number): number => top + plotH * (1 - (Math.min(Math.max(v, low), yTop) - low) / (yTop - low));
  const parts: string[] = [`<text x="${W / 2 - 40}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`];
  for (const t of ticks) parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/><text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${t.toFixed(2)}x</text>`);
  for (const f of [0, 0.25, 0.5, 0.75, 1]) parts.push(`<text x="${x(f)}" y="${H - bottom + 16}" text-anchor="middle" font-size="11">${Math.round(f * 100)}%</text>`);
  parts.push(`<text x="${left + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="11">host DRAM, % of the VM's footprint</text>`);
  for (const p of policies) {
    const pts = curve.fractions.map((f, i) => [x(f), curve.slowdown[p]![i]!] as const).filter(([, v]) => Number.isFinite(v)).map(([a, v]) => [a, y(v)] as const);
    if (pts.length === 0) continue;
    parts.push(`<polyline fill="none" stroke="${policyColour(p)}" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`);
    for (const [a, b] of pts) parts.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${policyColour(p)}"/>`);
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#000"/><line x1="${left}" x2="${left + plotW}" y1="${y(1).toFixed(1)}" y2="${y(1).toFixed(1)}" stroke="#000"/>`);
  parts.push(legend(policies, W - right + 12, top));
  return svg(W, H, parts);
}

/**
 * The runs over time: one panel per VM, one line per policy, ops/s relative
 * to the VM's all-DRAM average (raw ops/s without an all-DRAM run). Shows how
 * fast a policy converges and whether it holds.
 */
export function timelineChart(runs: readonly MachineResult[]): string {
  const ceiling = runs.find((r) => r.policy === 'all-dram');
  const vmCount = runs[0]?.vms.length ?? 0;
  const panelW = 260;
  const panelH = 160;
  const pad = { left: 46, top: 40, gap: 34 };
  const cols = Math.max(1, Math.min(vmCount, 2));
  const rows = Math.ceil(vmCount / cols);
  const width = pad.left + cols * (panelW + pad.gap) + 10;
  const height = pad.top + rows * (panelH + pad.gap + 16) + 30 + 16 * Math.ceil(runs.length / 5);
  const parts: string[] = [`<text x="${pad.left}" y="18" font-size="14" font-weight="bold">${esc(ceiling ? 'Speed over time, relative to all-DRAM' : 'Operations per second over time')}</text>`];
  for (let v = 0; v < vmCount; v++) {
    const x0 = pad.left + (v % cols) * (panelW + pad.gap);
    const y0 = pad.top + Math.floor(v / cols) * (panelH + pad.gap + 16);
    const base = ceiling ? ceiling.vms[v]!.opsPerSec : 1;
    const series = runs.map((r) => r.timeline.vms[v]!.opsPerSec.map((o) => (base > 0 ? o / base : NaN)));
    const top = Math.max(ceiling ? 1.1 : 0, ...series.flat().filter(Number.isFinite)) || 1;
    const endNs = runs[0]!.timeline.endNs;
    const span = endNs[endNs.length - 1] || 1;
    const vm = runs[0]!.vms[v]!;
    parts.push(`<text x="${x0}" y="${y0 - 6}" font-size="11" font-weight="bold">${esc(`${vm.name} ${vm.workload}`)}</text>`);
    parts.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 2; k++) {
      const val = (top * k) / 2;
      const y = y0 + panelH - (panelH * val) / top;
      parts.push(`<text x="${x0 - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${ceiling ? val.toFixed(2) : val.toExponential(1)}</text>`);
    }
    parts.push(`<text x="${x0 + panelW}" y="${y0 + panelH + 14}" text-anchor="end" font-size="11">${(span / 1e9).toFixed(2)} s</text>`);
    series.forEach((values, pi) => {
      const times = runs[pi]!.timeline.endNs;
      const points = values
        .map((val, i) => [x0 + (panelW * times[i]!) / span, val] as const)
        .filter(([, val]) => Number.isFinite(val))
        .map(([x, val]) => `${x.toFixed(1)},${(y0 + panelH - (panelH * Math.min(val, top)) / top).toFixed(1)}`)
        .join(' ');
      parts.push(`<polyline fill="none" stroke="${policyColour(runs[pi]!.policy)}" stroke-width="2" points="${points}"><title>${esc(runs[pi]!.policy)}</title></polyline>`);
    });
  }
  runs.forEach((r, pi) => {
    const lx = pad.left + (pi % 5) * 120;
    const ly = height - 12 - 16 * (Math.ceil(runs.length / 5) - 1 - Math.floor(pi / 5));
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${policyColour(r.policy)}"/><text x="${lx + 16}" y="${ly}" font-size="11">${esc(r.policy)}</text>`);
  });
  return svg(width, height, parts);
}
