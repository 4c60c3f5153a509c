/**
 * Pool daemon under load: one `hmmv pool` daemon (its own process, on a Unix
 * socket in a temp dir) and N managers connected at once (PoolClients in this
 * process, over the real socket), each reporting every window with a demand
 * that drifts (hot sets rise and fall on their own periods, so the pool keeps
 * reallocating). Measured:
 *   - every pool state the daemon pushes: quotas sum to at most the pool and
 *     each stays within its VM's [min, max]; every quota pushed to a manager
 *     within bounds (violations are counted, never expected);
 *   - the daemon's memory (resident set and V8 heap from its /metrics) over
 *     time: first and last sample after the warm-up, peak, slope per minute;
 *   - its reallocation time per step (hmmv_pool_rebalance_seconds: mean and
 *     histogram-estimated p50/p99), and messages handled.
 *
 *   node dist/bench/pool-load.js [--managers 64] [--seconds 180] [--window-ms 500] [--interval-ms 1000]
 * writes out/pool-load.json and prints it. `runPoolLoad()` is also the short CI check (test/pool/load.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { PoolClient } from '../plugin/pool/client.js';
import { Prng } from '../plugin/sim/workloads/prng.js';
import type { ReportMessage, PoolStateMessage } from '../plugin/pool/wire.js';
import { parseServerMessage, packageRoot } from '../plugin/pool/wire.js';
import WebSocket from 'ws';
import { machineHeader } from './machine.js';

const CLI = fileURLToPath(new URL('../plugin/cli.js', import.meta.url));

export interface PoolLoadOptions {
  managers: number;
  seconds: number;
  windowMs: number;
  intervalMs: number;
  policy: 'utility' | 'fair' | 'weighted';
  /** Memory samples before this are warm-up (not used for the slope). */
  warmupSeconds: number;
  log?: (msg: string) => void;
}

interface Vm {
  domain: string;
  pageCount: number;
  minPages: number;
  maxPages: number;
  weight: number;
  /** Hot fraction = base + swing * sin(2 pi t / period + phase). */
  base: number;
  swing: number;
  periodS: number;
  phase: number;
  quota: number;
}

/** A window report of `vm` at time `t` seconds: a hot set at 500 accesses/s per page, warm pages at 20, the rest cold. */
function reportOf(vm: Vm, t: number): Omit<ReportMessage, 'type' | 'seq'> {
  const hotFraction = Math.min(0.95, Math.max(0.01, vm.base + vm.swing * Math.sin((2 * Math.PI * t) / vm.periodS + vm.phase)));
  const hot = Math.floor(vm.pageCount * hotFraction);
  const warm = Math.floor((vm.pageCount - hot) / 3);
  const histogram = new Array<number>(256).fill(0);
  histogram[200] = hot;
  histogram[40] = warm;
  histogram[0] = vm.pageCount - hot - warm;
  const dram = Math.min(vm.quota, vm.pageCount);
  const dramHot = Math.min(dram, hot);
  const dramWarm = Math.min(dram - dramHot, warm);
  return {
    dramPages: dram,
    nvmPages: vm.pageCount - dram,
    quotaPages: vm.quota,
    hotSetPages: Math.min(hot, vm.quota),
    curve: [
      [hot, 500],
      [warm, 20],
    ],
    histogram,
    accessesPerSec: hot * 500 + warm * 20,
    dramAccessesPerSec: dramHot * 500 + dramWarm * 20,
    migratedPagesPerSec: 0,
  };
}

function httpGet(socketPath: string, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: urlPath }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one series in Prometheus text, e.g. `nodejs_heap_size_used_bytes` or `hmmv_pool_messages_total{type="report"}`. */
function metric(text: string, series: string): number | undefined {
  const m = new RegExp(`^${series.replace(/[{}()[\].*+?^$|\\]/g, '\\$&')} ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Estimated quantile from a Prometheus histogram's cumulative buckets (upper bound of the bucket holding it). */
function histogramQuantile(text: string, name: string, q: number): number | undefined {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} ([0-9.e+-]+)$`, 'gm'))].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])] as const);
  const count = buckets[buckets.length - 1]?.[1] ?? 0;
  if (count === 0) return undefined;
  return buckets.find(([, c]) => c >= q * count)?.[0];
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function runPoolLoad(opts: PoolLoadOptions): Promise<Record<string, unknown>> {
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-pool-load-'));
  const socketPath = path.join(dir, 'pool.sock');
  const prng = new Prng(4242);
  const r = (): number => prng.nextFloat();
  const vms: Vm[] = Array.from({ length: opts.managers }, (_, i) => {
    const pageCount = 65_536 * (1 + Math.floor(r() * 8)); // 256 MiB .. 2 GiB
    const maxPages = Math.floor(pageCount * (0.5 + r() * 0.5));
    const minPages = Math.floor(maxPages * r() * 0.3);
    return { domain: `vm-${String(i).padStart(3, '0')}`, pageCount, minPages, maxPages, weight: 1 + Math.floor(r() * 10), base: 0.1 + r() * 0.4, swing: r() * 0.3, periodS: 20 + r() * 60, phase: r() * 2 * Math.PI, quota: 0 };
  });
  const poolPages = Math.floor(vms.reduce((s, v) => s + v.maxPages, 0) * 0.4);
  vms.forEach((v) => (v.quota = Math.max(v.minPages, Math.min(v.maxPages, Math.floor(poolPages / opts.managers)))));
  const byDomain = new Map(vms.map((v) => [v.domain, v]));

  let daemonLog = '';
  const daemon: ChildProcess = spawn(
    process.execPath,
    [CLI, 'pool', 'serve', '--socket', socketPath, '--dram-pages', String(poolPages), '--policy', opts.policy, '--interval-ms', String(opts.intervalMs), '--settle-ms', '0', '--hysteresis-pages', '64'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stdout!.on('data', (d: Buffer) => (daemonLog += d));
  daemon.stderr!.on('data', (d: Buffer) => (daemonLog = (daemonLog + d).slice(-20_000)));
  const violations: string[] = [];
  const clients: PoolClient[] = [];
  let watcher: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < 200 && !/listening on/.test(daemonLog); i++) await new Promise((res) => setTimeout(res, 50));
    if (!/listening on/.test(daemonLog)) throw new Error(`the pool daemon did not start: ${daemonLog}`);

    let states = 0;
    let pushes = 0;
    let maxAllocated = 0;
    watcher = new WebSocket(`ws+unix://${socketPath}:/`);
    await new Promise<void>((res, rej) => (watcher!.once('open', () => res()), watcher!.once('error', rej)));
    watcher.on('message', (data: Buffer) => {
      const p = parseServerMessage(data);
      if (!p.ok || p.msg.type !== 'state') return;
      const s: PoolStateMessage = p.msg;
      states++;
      maxAllocated = Math.max(maxAllocated, s.allocatedPages);
      const sum = s.vms.reduce((a, v) => a + v.quotaPages, 0);
      if (sum > s.poolPages) violations.push(`state: quotas sum to ${sum} > pool ${s.poolPages}`);
      for (const v of s.vms) {
        const vm = byDomain.get(v.domain);
        if (vm && (v.quotaPages < vm.minPages || v.quotaPages > vm.maxPages)) violations.push(`state: ${v.domain} quota ${v.quotaPages} outside [${vm.minPages}, ${vm.maxPages}]`);
      }
    });
    watcher.send(JSON.stringify({ type: 'subscribe' }));

    const t0 = performance.now();
    for (const vm of vms) {
      const c = new PoolClient({
        endpoint: { socketPath },
        hello: { domain: vm.domain, pageCount: vm.pageCount, pageSizeBytes: 4096, staticQuotaPages: vm.quota, minPages: vm.minPages, maxPages: vm.maxPages, weight: vm.weight, migrationPagesPerSec: 262_144 },
        apply: (q, from) => {
          if (from === 'pool') pushes++;
          if (from === 'pool' && (q < vm.minPages || q > vm.maxPages)) violations.push(`push: ${vm.domain} got ${q} outside [${vm.minPages}, ${vm.maxPages}]`);
          vm.quota = q;
        },
      });
      clients.push(c);
      c.start();
    }
    for (let i = 0; i < 400 && !clients.every((c) => c.connected); i++) await new Promise((res) => setTimeout(res, 25));
    if (!clients.every((c) => c.connected)) throw new Error(`only ${clients.filter((c) => c.connected).length} of ${opts.managers} managers connected`);
    const connectMs = performance.now() - t0;
    log(`${opts.managers} managers connected in ${connectMs.toFixed(0)} ms; pool ${poolPages} pages, ${opts.policy}`);

    // Every manager reports every window (staggered, as independent managers would).
    const start = performance.now();
    let reports = 0;
    const stagger = opts.windowMs / opts.managers;
    let next = 0;
    timer = setInterval(() => {
      const t = (performance.now() - start) / 1000;
      // Send the reports due since the last tick (one per manager per window, spread evenly).
      const due = Math.floor((performance.now() - start) / stagger);
      for (; next < due; next++) {
        const i = next % opts.managers;
        clients[i]!.report(reportOf(vms[i]!, t));
        reports++;
      }
    }, Math.max(1, Math.floor(stagger)));

    const samples: { t: number; rssBytes: number; heapBytes: number }[] = [];
    const end = start + opts.seconds * 1000;
    const sampleEvery = Math.min(5000, Math.max(500, (opts.seconds * 1000) / 30));
    while (performance.now() < end) {
      await new Promise((res) => setTimeout(res, Math.min(sampleEvery, end - performance.now())));
      const text = await httpGet(socketPath, '/metrics');
      samples.push({ t: (performance.now() - start) / 1000, rssBytes: metric(text, 'process_resident_memory_bytes') ?? 0, heapBytes: metric(text, 'nodejs_heap_size_used_bytes') ?? 0 });
      log(`t=${samples[samples.length - 1]!.t.toFixed(0)} s: daemon RSS ${(samples[samples.length - 1]!.rssBytes / 2 ** 20).toFixed(1)} MiB, ${states} states, ${violations.length} violations`);
    }
    clearInterval(timer);
    timer = undefined;
    const text = await httpGet(socketPath, '/metrics');
    const count = metric(text, 'hmmv_pool_rebalance_seconds_count') ?? 0;
    const sum = metric(text, 'hmmv_pool_rebalance_seconds_sum') ?? 0;
    const after = samples.filter((s) => s.t >= opts.warmupSeconds);
    const used = after.length >= 2 ? after : samples;
    const mibs = (b: number) => +(b / 2 ** 20).toFixed(2);
    const perMinute = (key: 'rssBytes' | 'heapBytes') => +((slope(used.map((s) => s.t), used.map((s) => s[key])) * 60) / 2 ** 20).toFixed(3);
    const connected = clients.filter((c) => c.connected).length;
    return {
      managers: opts.managers,
      connectedAtEnd: connected,
      seconds: opts.seconds,
      windowMs: opts.windowMs,
      intervalMs: opts.intervalMs,
      policy: opts.policy,
      poolPages,
      connectMs: Math.round(connectMs),
      reportsSent: reports,
      statesChecked: states,
      quotaPushes: pushes,
      maxAllocatedPages: maxAllocated,
      violations: violations.length,
      firstViolations: violations.slice(0, 5),
      rebalance: {
        steps: count,
        meanMs: count > 0 ? +((sum / count) * 1000).toFixed(4) : undefined,
        p50MsAtMost: (histogramQuantile(text, 'hmmv_pool_rebalance_seconds', 0.5) ?? NaN) * 1000,
        p99MsAtMost: (histogramQuantile(text, 'hmmv_pool_rebalance_seconds', 0.99) ?? NaN) * 1000,
      },
      daemonMemory: {
        samples: samples.length,
        warmupSeconds: opts.warmupSeconds,
        rssFirstMiB: mibs(used[0]?.rssBytes ?? 0),
        rssLastMiB: mibs(used[used.length - 1]?.rssBytes ?? 0),
        rssPeakMiB: mibs(Math.max(...samples.map((s) => s.rssBytes))),
        rssSlopeMiBPerMin: perMinute('rssBytes'),
        heapFirstMiB: mibs(used[0]?.heapBytes ?? 0),
        heapLastMiB: mibs(used[used.length - 1]?.heapBytes ?? 0),
        heapSlopeMiBPerMin: perMinute('heapBytes'),
        series: samples.map((s) => ({ t: +s.t.toFixed(1), rssMiB: mibs(s.rssBytes), heapMiB: mibs(s.heapBytes) })),
      },
      reportsReceived: metric(text, 'hmmv_pool_messages_total{type="report"}'),
      messagesRejected: metric(text, 'hmmv_pool_messages_rejected_total{code="rate-limited"}') ?? 0,
    };
  } finally {
    if (timer) clearInterval(timer);
    await Promise.all(clients.map((c) => c.close()));
    watcher?.terminate();
    daemon.kill('SIGTERM');
    await new Promise<void>((res) => (daemon.exitCode !== null ? res() : daemon.once('exit', () => res())));
    rmSync(dir, { recursive: true, force: true });
  }
}

const positive = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a positive number');
  return n;
};

async function main(o: { managers: number; seconds: number; windowMs: number; intervalMs: number; policy: PoolLoadOptions['policy'] }): Promise<void> {
  const result = {
    ...machineHeader(),
    loadAverage: os.loadavg(),
    ...(await runPoolLoad({ ...o, warmupSeconds: Math.min(30, o.seconds / 4), log: (m) => process.stderr.write(`pool-load: ${m}\n`) })),
  };
  const out = path.join(packageRoot(), 'out');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'pool-load.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await new Command('node dist/bench/pool-load.js')
    .description('one pool daemon, N managers over its socket reporting every window: quota checks, daemon memory, reallocation time (out/pool-load.json)')
    .option('--managers <n>', 'managers connected at once', positive, 64)
    .option('--seconds <s>', 'how long they report', positive, 180)
    .option('--window-ms <ms>', 'time between one manager\'s reports', positive, 500)
    .option('--interval-ms <ms>', 'time between reallocations', positive, 1000)
    .addOption(new Option('--policy <name>', 'pool policy').choices(['utility', 'fair', 'weighted']).default('utility'))
    .action(main)
    .parseAsync(process.argv);
}
