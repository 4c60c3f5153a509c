/**
 * kmod vs linux backend on the same guest, one run (bench/kmod-vs-linux.ts
 * boots it). The same stand-in for QEMU (kmod-check hold: 8192 pages, 512 of
 * them rewritten continuously, every 4th page: hot pages interleaved with
 * cold ones) runs once on an hmmv.ko region (DRAM + devdax NVM) and once on
 * anonymous memory (DRAM node 0 + slow node 1) for the linux backend:
 *
 *   migration   all pages to the slow tier and back while the hot ones are
 *               written: pages per second; pause per moved page (kmod: the
 *               measured switch; move_pages: a page is unmapped for its whole
 *               call, so one-page calls give its pause, and a 64-page batch
 *               bounds it from above)
 *   tracking    one scan round (accessed test-and-clear of every page + the
 *               dirty log) in wall time, and the faults it costs the guest
 *   precision   accessed evidence per page against the known hot set after
 *               DAMON has had 3 s to settle its regions
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { KmodControl, KmodMemoryHost } from '../../plugin/host/kmod/index.js';
import { prepareRegion, releaseRegion } from '../../plugin/host/kmod/region-lifecycle.js';
import { openLinuxHost } from '../../plugin/host/linux/linux-host.js';
import { movePagesRaw } from '../../plugin/host/linux/move-pages.js';
import { Tier, type MemoryHost } from '../../plugin/host/memory-host.js';
import { bitmapFill, bitmapGet, createBitmap } from '../../plugin/util/bitmap.js';
import { report } from './guest-report.js';

const PAGES = 8192;
const HOT = 512;
const STRIDE = 4;
const ROUNDS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (first: number, n: number) => Uint32Array.from({ length: n }, (_, i) => first + i);
const isHot = (p: number) => p % STRIDE === 0 && p / STRIDE < HOT;

async function startMapper(target: string): Promise<{ proc: ChildProcessWithoutNullStreams; pages: number; addr: bigint; verify: () => Promise<number> }> {
  const proc = spawn('/bin/kmod-check', ['hold', target, '900', String(HOT), String(STRIDE)]) as ChildProcessWithoutNullStreams;
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => (waiters.length ? waiters.shift()!(l) : lines.push(l)));
  const next = () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise<string>((r) => waiters.push(r)));
  const m = /^HOLD ready (\d+) (\d+)$/.exec(await next());
  if (!m) throw new Error('the mapper did not start');
  return {
    proc,
    pages: Number(m[1]),
    addr: BigInt(m[2]!),
    verify: async () => {
      proc.kill('SIGUSR1');
      return Number(/^HOLD verified (\d+)$/.exec(await next())?.[1] ?? NaN);
    },
  };
}

async function stopMapper(proc: ChildProcessWithoutNullStreams): Promise<void> {
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await gone;
}

interface Figures {
  migratedPages: number;
  busy: number;
  migrateSeconds: number;
  pagesPerSecond: number;
  pauseNsPerPage: number;
  maxPauseNs?: number;
  pauseBoundNsPerPage?: number;
  trackingMsPerRound: number;
  trackingFaultsPerRound?: number;
  precision: number;
  recall: number;
  badPages: number;
}

/** Migration both ways, tracking rounds, accessed precision: the same for both hosts. */
async function measure(host: MemoryHost, faults: () => number): Promise<Omit<Figures, 'pauseNsPerPage' | 'badPages'> & { pauseNs: number; moved: number; maxPauseNs: number }> {
  const all = createBitmap(host.pageCount);
  bitmapFill(all, host.pageCount);
  const t0 = process.hrtime.bigint();
  const down = await host.migrate(range(0, host.pageCount), Tier.NVM);
  const up = await host.migrate(range(0, host.pageCount), Tier.DRAM);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const moved = down.moved + up.moved;

  const scratch = createBitmap(host.pageCount);
  await host.testAndClearAccessed(all, scratch);
  await host.drainDirtyLog();
  const f0 = faults();
  const r0 = process.hrtime.bigint();
  for (let r = 0; r < ROUNDS; r++) {
    scratch.fill(0);
    await host.testAndClearAccessed(all, scratch);
    const d = await host.drainDirtyLog();
    if (d.overflowed) await host.testAndClearDirty(all, scratch);
    await sleep(100);
  }
  const roundMs = (Number(process.hrtime.bigint() - r0) / 1e6 - ROUNDS * 100) / ROUNDS;
  const faultsPerRound = (faults() - f0) / ROUNDS;

  // Precision: three harvests 1 s apart after 3 s of settling, per page against the hot set.
  await sleep(3000);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let h = 0; h < 3; h++) {
    scratch.fill(0);
    await host.testAndClearAccessed(all, scratch);
    if (h === 0) {
      await sleep(1000);
      continue; // the first harvest only clears
    }
    for (let p = 0; p < host.pageCount; p++) {
      const seen = bitmapGet(scratch, p);
      if (seen && isHot(p)) tp++;
      else if (seen) fp++;
      else if (isHot(p)) fn++;
    }
    await sleep(1000);
  }
  return {
    migratedPages: moved,
    busy: down.busy + up.busy,
    migrateSeconds: seconds,
    pagesPerSecond: moved / seconds,
    pauseNs: down.pauseNs + up.pauseNs,
    moved,
    maxPauseNs: Math.max(down.maxPauseNs, up.maxPauseNs),
    trackingMsPerRound: roundMs,
    trackingFaultsPerRound: faultsPerRound,
    precision: tp / Math.max(1, tp + fp),
    recall: tp / Math.max(1, tp + fn),
  };
}

async function kmodFigures(dax: string): Promise<Figures> {
  const domain = 'bench';
  prepareRegion({ domain, ramBytes: PAGES * 4096, dramQuotaBytes: PAGES * 4096, slowTier: { devdax: `/dev/${dax}` } });
  const mapper = await startMapper(domain);
  const host = KmodMemoryHost.open({ region: domain, vcpuCount: 1, expectMapperPid: mapper.proc.pid! });
  const info = KmodControl.open();
  info.attach(domain);
  try {
    const m = await measure(host, () => info.info().faults);
    return { ...m, pauseNsPerPage: m.pauseNs / Math.max(1, m.moved), maxPauseNs: m.maxPauseNs, badPages: await mapper.verify() };
  } finally {
    info.close();
    await host.close();
    await stopMapper(mapper.proc);
    releaseRegion(domain);
  }
}

async function linuxFigures(): Promise<Figures> {
  writeFileSync('/proc/sys/kernel/numa_balancing', '0');
  const mapper = await startMapper(`anon:${PAGES}`);
  const host = await openLinuxHost({
    pid: mapper.proc.pid!,
    ram: [{ name: 'anon', start: mapper.addr, lengthBytes: PAGES * 4096 }],
    dramNodes: [0],
    nvmNodes: [1],
    damon: { sampleUs: 5000, aggrUs: 100_000, updateUs: 1_000_000, minRegions: 100, maxRegions: 1000 },
  });
  try {
    const m = await measure(host, () => 0);
    // One page per move_pages call: the page is unmapped for the whole call.
    const one = new BigUint64Array(1);
    const node = new Int32Array(1);
    const status = new Int32Array(1);
    const n = 256;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      one[0] = mapper.addr + BigInt((i * STRIDE + 1) * 4096); // cold pages: no write in the way
      node[0] = 1;
      movePagesRaw(mapper.proc.pid!, one, node, status);
    }
    const singleNs = Number(process.hrtime.bigint() - t0) / n;
    return {
      ...m,
      pauseNsPerPage: singleNs,
      pauseBoundNsPerPage: (m.migrateSeconds * 1e9) / Math.max(1, m.moved) * 64,
      trackingFaultsPerRound: undefined,
      badPages: await mapper.verify(),
    };
  } finally {
    await host.close();
    await stopMapper(mapper.proc);
  }
}

export async function runBenchmark(dax: string): Promise<void> {
  const kmod = await kmodFigures(dax);
  const linux = await linuxFigures();
  report('bench-kmod-vs-linux', {
    ok: kmod.badPages === 0 && linux.badPages === 0,
    setup: { pages: PAGES, hotPages: HOT, hotStride: STRIDE, rounds: ROUNDS, kmodSlowTier: `devdax ${dax}`, linuxSlowTier: 'NUMA node 1' },
    kmod,
    linux,
    ratios: {
      // linux's figure is an upper bound (the whole one-page call): this ratio bounds nothing below.
      pausePerPageVsOnePageCallBound: kmod.pauseNsPerPage / linux.pauseNsPerPage,
      throughput: kmod.pagesPerSecond / linux.pagesPerSecond,
      trackingPerRound: kmod.trackingMsPerRound / linux.trackingMsPerRound,
      precision: kmod.precision / Math.max(1e-9, linux.precision),
      recall: kmod.recall / Math.max(1e-9, linux.recall),
    },
  });
}
