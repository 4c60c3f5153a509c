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

/**
 * The runs over time: one panel per VM, one line per policy, ops/s relative
 * to the VM's all-DRAM average (raw ops/s without an all-DRAM run). Shows how
 * fast a policy converges and whether it holds.
 */
export function renderTimeline(result: ExperimentResult): string {
  const { runs } = result;
  const ceiling = runs.find((r) => r.policy === 'all-dram');
  const vmCount = runs[0]?.vms.length ?? 0;
  const panelW = 260;
  const panelH = 160;
  const pad = { left: 46, top: 40, gap: 34 };
  const cols = Math.min(vmCount, 2);
  const rows = Math.ceil(vmCount / Math.max(1, cols));
  const width = pad.left + cols * (panelW + pad.gap) + 10;
  const height = pad.top + rows * (panelH + pad.gap + 16) + 30;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${pad.left}" y="18" font-size="14" font-weight="bold">${esc(ceiling ? 'Speed over time, relative to all-DRAM' : 'Operations per second over time')}</text>`);
  for (let v = 0; v < vmCount; v++) {
    const x0 = pad.left + (v % cols) * (panelW + pad.gap);
    const y0 = pad.top + Math.floor(v / cols) * (panelH + pad.gap + 16);
    const base = ceiling ? ceiling.vms[v]!.opsPerSec : 1;
    const series = runs.map((r) => r.timeline.vms[v]!.opsPerSec.map((o) => o / base));
    const top = Math.max(ceiling ? 1.1 : 0, ...series.flat().filter(Number.isFinite)) || 1;
    const endNs = runs[0]!.timeline.endNs;
    const span = endNs[endNs.length - 1] ?? 1;
    const vm = runs[0]!.vms[v]!;
    out.push(`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${esc(`${vm.name} ${vm.workload}`)}</text>`);
    out.push(`<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
    for (let k = 0; k <= 2; k++) {
      const val = (top * k) / 2;
      const y = y0 + panelH - (panelH * val) / top;
      out.push(`<text x="${x0 - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end">${ceiling ? val.toFixed(2) : val.toExponential(1)}</text>`);
    }
    out.push(`<text x="${x0 + panelW}" y="${y0 + panelH + 14}" text-anchor="end">${(span / 1e9).toFixed(2)} s</text>`);
    series.forEach((values, pi) => {
      const times = runs[pi]!.timeline.endNs;
      const points = values
        .map((val, i) => `${(x0 + (panelW * times[i]!) / span).toFixed(1)},${(y0 + panelH - (panelH * Math.min(val, top)) / top).toFixed(1)}`)
        .join(' ');
      out.push(`<polyline fill="none" stroke="${COLOURS[pi % COLOURS.length]}" stroke-width="2" points="${points}"><title>${esc(runs[pi]!.policy)}</title></polyline>`);
    });
  }
  runs.forEach((r, pi) => {
    const lx = pad.left + pi * 110;
    const ly = height - 12;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLOURS[pi % COLOURS.length]}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly}">${esc(r.policy)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
