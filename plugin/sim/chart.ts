/**
 * The experiment as an SVG bar chart: per VM (and the geometric mean), the
 * speed of each policy relative to all-DRAM (1.0 = as fast as all-DRAM), or
 * raw ops/s when there is no all-DRAM run.
 */
import type { ExperimentResult } from './experiment.js';

const COLOURS = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#76b7b2', '#edc948', '#b07aa1'];

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderChart(result: ExperimentResult): string {
  const { summary, runs } = result;
  const policies = runs.map((r) => r.policy);
  const relative = summary.totalSlowdown[policies[0]!] !== undefined;
  const groups = summary.vms.map((vm) => ({
    label: `${vm.name} ${vm.workload}`,
    values: policies.map((p) => (relative ? 1 / vm.slowdown[p]! : vm.opsPerSec[p]!)),
  }));
  if (relative) groups.push({ label: 'geomean', values: policies.map((p) => 1 / summary.totalSlowdown[p]!) });
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values.filter(Number.isFinite)));
  const top = relative ? Math.max(1, max) : max;

  const barW = 22;
  const gap = 26;
  const left = 60;
  const plotH = 260;
  const topPad = 50;
  const groupW = policies.length * barW + gap;
  const width = left + groups.length * groupW + 20;
  const height = topPad + plotH + 90;
  const y = (v: number): number => topPad + plotH - (plotH * v) / top;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  const title = relative ? 'Speed relative to all-DRAM (higher is better)' : 'Operations per second';
  out.push(`<text x="${left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  if (summary.hmmvBeatsUnmanagedPct !== undefined) {
    out.push(`<text x="${left}" y="38">${esc(`HMM-V vs unmanaged: ${summary.hmmvBeatsUnmanagedPct >= 0 ? '+' : ''}${summary.hmmvBeatsUnmanagedPct.toFixed(1)}%`)}</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    out.push(`<line x1="${left}" x2="${width - 10}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${relative ? v.toFixed(2) : v.toExponential(1)}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    g.values.forEach((v, pi) => {
      const h = Number.isFinite(v) ? (plotH * v) / top : 0;
      out.push(
        `<rect x="${x0 + pi * barW}" y="${(topPad + plotH - h).toFixed(1)}" width="${barW - 2}" height="${h.toFixed(1)}" fill="${COLOURS[pi % COLOURS.length]}"><title>${esc(`${policies[pi]}: ${relative ? v.toFixed(3) : v.toFixed(0)}`)}</title></rect>`,
      );
    });
    const cx = x0 + (policies.length * barW) / 2;
    out.push(`<text x="${cx}" y="${topPad + plotH + 16}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  policies.forEach((p, pi) => {
    const lx = left + pi * 110;
    const ly = topPad + plotH + 44;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLOURS[pi % COLOURS.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${esc(p)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
