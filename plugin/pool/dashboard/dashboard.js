// hmmv pool dashboard: subscribes to the daemon's state over the same
// WebSocket the managers use and redraws on every push; keeps the history
// since the page was opened (history.js) for the charts. No build step.
import { PoolHistory, lineChart, HISTORY_SECONDS } from './history.js';

const COLORS = ['#3b6fd8', '#d8743b', '#3bab6f', '#a43bd8', '#d83b5e', '#3bb5d8', '#8a8a2a', '#555'];
const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);
let updates = 0;
let backoff = 250;
const history = new PoolHistory();
const colorOfDomain = new Map();
const colorOf = (domain) => {
  if (!colorOfDomain.has(domain)) colorOfDomain.set(domain, COLORS[colorOfDomain.size % COLORS.length]);
  return colorOfDomain.get(domain);
};

const fmtBytes = (pages, pageSize) => {
  let b = pages * pageSize;
  for (const u of ['B', 'KiB', 'MiB', 'GiB', 'TiB']) {
    if (b < 1024 || u === 'TiB') return `${b.toFixed(b < 10 && u !== 'B' ? 1 : 0)} ${u}`;
    b /= 1024;
  }
};
const fmtNum = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(x < 10 ? 1 : 0));
const el = (tag, attrs = {}, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

/** Temperature histogram as SVG bars, log scale (pages per bucket span many decades). */
function histogram(h) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'hist');
  svg.setAttribute('viewBox', '0 0 256 100');
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(1, ...h);
  h.forEach((n, t) => {
    if (n <= 0) return;
    const height = (100 * Math.log1p(n)) / Math.log1p(max);
    const r = document.createElementNS(ns, 'rect');
    r.setAttribute('x', String(t));
    r.setAttribute('width', '1');
    r.setAttribute('y', String(100 - height));
    r.setAttribute('height', String(height));
    r.setAttribute('fill', `hsl(${240 - (240 * t) / 255}, 70%, 50%)`);
    svg.appendChild(r);
  });
  const title = document.createElementNS(ns, 'title');
  title.textContent = 'pages per temperature (0 = cold, left; 255 = hot, right; log scale)';
  svg.appendChild(title);
  // Axes as HTML around the stretched SVG (text inside it would be distorted).
  const fig = el('figure', { class: 'hist-figure', 'data-testid': 'histogram' });
  const plot = el('div', { class: 'hist-plot' });
  plot.appendChild(el('div', { class: 'hist-y', 'data-label': 'y' }, `${max} pages`));
  plot.appendChild(svg);
  fig.appendChild(plot);
  const xAxis = el('div', { class: 'hist-x', 'data-label': 'x' });
  xAxis.appendChild(el('span', {}, '0 cold'));
  xAxis.appendChild(el('span', {}, 'temperature'));
  xAxis.appendChild(el('span', {}, '255 hot'));
  fig.appendChild(xAxis);
  fig.appendChild(el('figcaption', {}, 'pages per temperature, log scale'));
  return fig;
}

/** The three history charts, redrawn when the history got a new sample. */
function renderHistory(s) {
  const box = $('history');
  box.replaceChildren();
  const now = Date.now();
  box.appendChild(lineChart({ id: 'share', title: 'DRAM share per VM', unit: '% of the pool', yMax: 100, series: history.series('share', colorOf), nowMs: now }));
  box.appendChild(lineChart({ id: 'migrations', title: 'Page migrations per VM', unit: 'pages/s', series: history.series('migr', colorOf), nowMs: now }));
  box.appendChild(lineChart({ id: 'hit', title: 'DRAM hit ratio per VM', unit: '% of accesses', yMax: 100, series: history.series('hit', colorOf), nowMs: now }));
  const legend = el('div', { class: 'legend', 'data-testid': 'legend' });
  for (const v of s.vms) {
    const item = el('span', { class: 'legend-item' });
    item.appendChild(el('span', { class: 'swatch', style: `background:${colorOf(v.domain)}` }));
    item.appendChild(document.createTextNode(v.domain));
    legend.appendChild(item);
  }
  box.appendChild(legend);
  $('history-note').textContent = `since this page was opened, at most ${HISTORY_SECONDS / 60} min, one sample per second; longer: scrape /metrics`;
}

function render(s) {
  updates++;
  $('updates').textContent = String(updates);
  $('summary').textContent = `policy ${s.policy} · pool ${fmtBytes(s.poolPages, s.pageSizeBytes)} · allocated ${fmtBytes(s.allocatedPages, s.pageSizeBytes)} · ${s.vms.length} VM${s.vms.length === 1 ? '' : 's'} · epoch ${s.epoch}`;
  const bar = $('pool-bar');
  bar.replaceChildren();
  const vms = $('vms');
  vms.replaceChildren();
  if (history.add(s)) renderHistory(s);
  s.vms.forEach((v) => {
    const color = colorOf(v.domain);
    const share = s.poolPages > 0 ? (100 * v.quotaPages) / s.poolPages : 0;
    const seg = el('div', { style: `width:${share}%;background:${color}`, title: `${v.domain}: ${share.toFixed(1)}%` }, v.domain);
    bar.appendChild(seg);

    const card = el('section', { class: `vm${v.connected ? '' : ' gone'}`, 'data-testid': 'vm', 'data-domain': v.domain });
    const h = el('h2');
    h.appendChild(el('span', { style: `color:${color}` }, v.domain));
    h.appendChild(el('span', {}, v.connected ? 'connected' : `away, released in ${Math.ceil((v.graceLeftMs ?? 0) / 1000)} s`));
    card.appendChild(h);
    const dl = el('dl');
    const row = (k, val, id) => {
      dl.appendChild(el('dt', {}, k));
      dl.appendChild(el('dd', { 'data-field': id }, val));
    };
    row('DRAM share', `${share.toFixed(1)}% (${fmtBytes(v.quotaPages, s.pageSizeBytes)}${v.targetPages !== v.quotaPages ? ` → ${fmtBytes(v.targetPages, s.pageSizeBytes)}` : ''})`, 'share');
    row('in DRAM / NVM', `${fmtBytes(v.dramPages, s.pageSizeBytes)} / ${fmtBytes(v.nvmPages, s.pageSizeBytes)}`, 'tiers');
    row('hot set', fmtBytes(v.hotSetPages, s.pageSizeBytes), 'hotset');
    row('migrations', `${fmtNum(v.migratedPagesPerSec)} pages/s`, 'migrations');
    row('est. slowdown', `${v.slowdown.toFixed(2)}×`, 'slowdown');
    row('accesses', `${fmtNum(v.accessesPerSec)}/s, ${v.accessesPerSec > 0 ? ((100 * v.dramAccessesPerSec) / v.accessesPerSec).toFixed(1) : '100.0'}% from DRAM`, 'accesses');
    card.appendChild(dl);
    card.appendChild(histogram(v.histogram.length ? v.histogram : [0]));
    vms.appendChild(card);
  });
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/${token ? `?token=${encodeURIComponent(token)}` : ''}`);
  ws.onopen = () => {
    backoff = 250;
    $('link').textContent = 'live';
    $('link').className = 'link up';
    ws.send(JSON.stringify({ type: 'subscribe' }));
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'state') render(m);
  };
  ws.onclose = () => {
    $('link').textContent = 'offline, reconnecting';
    $('link').className = 'link down';
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 5000);
  };
}
connect();
