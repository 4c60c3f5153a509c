/**
 * Several linux-backed domains on one host, INSIDE the test-bed guest: two
 * workload processes (stand-ins for two QEMUs), each managed by its own
 * manager process (manager-proc.ts) with its own quota and its own kdamond.
 *
 *   1. isolation, before any manager: two backends in this process, one per
 *      workload: clear_refs of one leaves the other's soft-dirty bits, a
 *      move_pages of one leaves the other's pages, each has its kdamond; the
 *      kernel tree is recorded here (two hmmv kdamonds running);
 *   2. both hot regions start on node 1 (the worst placement); two managers
 *      run until each process's hot region is on node 0 and its cold region
 *      on node 1 within its quota;
 *   3. stopping manager A (SIGTERM) empties A's kdamond and leaves B's
 *      running and B's manager tracking;
 *   4. a manager C for A killed with SIGKILL leaves its kdamond running; the
 *      next manager D for A reclaims it, without touching B's;
 *   5. the last one out restores nr_kdamonds as it was; no write was lost.
 */
import { spawnSync } from 'node:child_process';
import { processStart, readSlots, readRecords } from '../../plugin/host/linux/damon-registry.js';
import { openLinuxHost, type LinuxMemoryHost } from '../../plugin/host/linux/linux-host.js';
import { Tier } from '../../plugin/host/memory-host.js';
import { readText, writeText } from '../../plugin/host/linux/sysfs.js';
import { bitmapFill, createBitmap } from '../../plugin/util/bitmap.js';
import { recordKernelTree } from '../host/linux/record-tree.js';
import { countNode, ManagerProcess, nodesOfRange, perRegion, placeRange, range, regionPages, report, sleep, Workload } from './guest-lib.js';

const RUN_DIR = '/run/hmmv/damon';
const NR_KDAMONDS = '/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds';

interface Domain {
  readonly name: string;
  readonly hotRead: number;
  readonly hotWrite: number;
  readonly cold: number;
  readonly quota: number;
  w?: Workload;
}

const ramOf = (w: Workload) => w.regions.map((r) => ({ name: r.name, start: BigInt(r.start), lengthBytes: r.pages * 4096 }));

/** Pages of each region on node 0 and node 1 now. */
function placement(w: Workload): Record<string, { node0: number; node1: number }> {
  const out: Record<string, { node0: number; node1: number }> = {};
  for (const r of w.regions) {
    const nodes = nodesOfRange(w.pid, BigInt(r.start), r.pages);
    out[r.name] = { node0: countNode(nodes, 0), node1: countNode(nodes, 1) };
  }
  return out;
}

/** Hot regions on node 0 (1% slack: DAMON sees regions, not pages) and the cold region on node 1 but for what the quota leaves. */
function converged(d: Domain, p: Record<string, { node0: number; node1: number }>): boolean {
  const hot = d.hotRead + d.hotWrite;
  const hotOnNvm = p['hot-read']!.node1 + p['hot-write']!.node1;
  return hotOnNvm <= 0.01 * hot && p['cold']!.node0 <= d.quota - hot + 0.01 * d.cold;
}

const kdamondsNow = () => readSlots().map((s) => ({ index: s.index, running: s.running, configured: s.configured, targetPid: s.targetPid }));

async function isolation(a: Workload, b: Workload): Promise<void> {
  const open = (w: Workload) =>
    openLinuxHost({ pid: w.pid, ram: ramOf(w), dramNodes: [0], nvmNodes: [1], damon: { minRegions: 100, maxRegions: 1000 }, damonRegistry: { runDir: RUN_DIR } });
  let ha: LinuxMemoryHost | undefined;
  let hb: LinuxMemoryHost | undefined;
  try {
    ha = await open(a);
    hb = await open(b);
    const all = (h: LinuxMemoryHost) => {
      const m = createBitmap(h.pageCount);
      bitmapFill(m, h.pageCount);
      return m;
    };
    // Soft-dirty: B writes, then stops; A's harvest (clear_refs of A) must leave B's bits.
    await ha.testAndClearDirty(all(ha), createBitmap(ha.pageCount));
    await hb.testAndClearDirty(all(hb), createBitmap(hb.pageCount));
    await sleep(600);
    process.kill(b.pid, 'SIGSTOP');
    await sleep(50);
    const dirtyA = createBitmap(ha.pageCount);
    await ha.testAndClearDirty(all(ha), dirtyA);
    const dirtyB = createBitmap(hb.pageCount);
    await hb.testAndClearDirty(all(hb), dirtyB);
    process.kill(b.pid, 'SIGCONT');
    // move_pages: A's cold region to node 1 and back; B's pages stay where they are.
    const before = placement(b);
    const coldA = regionPages(ha)['cold']!;
    const moved = await ha.migrate(range(coldA.first, coldA.count), Tier.NVM);
    const during = placement(b);
    const back = await ha.migrate(range(coldA.first, coldA.count), Tier.DRAM);
    const slots = kdamondsNow();
    report('two-domains-isolation', {
      dirtyA: perRegion(ha, dirtyA),
      dirtyB: perRegion(hb, dirtyB),
      movedA: moved.moved,
      backA: back.moved,
      bBefore: before,
      bDuringAMove: during,
      kdamonds: [ha.damon.index, hb.damon.index],
      slots: slots.filter((s) => s.running),
      nrKdamonds: Number(readText(NR_KDAMONDS)),
      records: readRecords(RUN_DIR),
    });
    // The kernel tree as two hmmv kdamonds run (test/host/linux/fixtures/guest-6.12 was recorded from this).
    await ha.testAndClearAccessed(all(ha), createBitmap(ha.pageCount)); // leaves tried_regions to record
    const tree = Object.fromEntries(recordKernelTree());
    for (const r of readRecords(RUN_DIR)) tree[`${RUN_DIR}/kdamond-${r.index}.json`] = JSON.stringify(r) + '\n';
    report('recorded-tree', { tree });
  } finally {
    await hb?.close();
    await ha?.close();
  }
  report('two-domains-released', { nrKdamonds: Number(readText(NR_KDAMONDS)), records: readRecords(RUN_DIR), slots: kdamondsNow().filter((s) => s.running || s.configured) });
}

export async function twoDomainScenario(): Promise<void> {
  writeText('/proc/sys/kernel/numa_balancing', '0');
  const nrBefore = Number(readText(NR_KDAMONDS) ?? '0');
  // Different sizes and quotas: A small with a tight quota, B larger with room to spare.
  const domains: Domain[] = [
    { name: 'vm-a', hotRead: 512, hotWrite: 256, cold: 1536, quota: 768 + 64 },
    { name: 'vm-b', hotRead: 1024, hotWrite: 256, cold: 1024, quota: 1280 + 256 },
  ];
  const [A, B] = domains as [Domain, Domain];
  A.w = await Workload.start(A.hotRead, A.hotWrite, A.cold);
  B.w = await Workload.start(B.hotRead, B.hotWrite, B.cold);
  const managers: ManagerProcess[] = [];
  try {
    await isolation(A.w, B.w);

    // Worst placement: hot regions on node 1, cold on node 0.
    for (const d of domains) for (const r of d.w!.regions) if (r.name !== 'cold') placeRange(d.w!.pid, BigInt(r.start), r.pages, 1);
    report('two-domains-start', { nrBefore, domains: domains.map((d) => ({ name: d.name, pid: d.w!.pid, quota: d.quota, placement: placement(d.w!) })) });

    const args = (d: Domain) => ({ name: d.name, pid: d.w!.pid, ram: d.w!.regions.map((r) => ({ name: r.name, start: r.start, lengthBytes: r.pages * 4096 })), quotaPages: d.quota, runDir: RUN_DIR });
    const started = Date.now();
    const ma = ManagerProcess.start(args(A));
    const mb = ManagerProcess.start(args(B));
    managers.push(ma, mb);
    const [oa, ob] = await Promise.all([ma.next((e) => e.event === 'opened' || e.event === 'error', 60_000), mb.next((e) => e.event === 'opened' || e.event === 'error', 60_000)]);
    if (oa.event !== 'opened' || ob.event !== 'opened') throw new Error(`a manager did not open: ${JSON.stringify(oa)} ${JSON.stringify(ob)} ${ma.stderr} ${mb.stderr}`);
    const convergedAt: Record<string, number | undefined> = {};
    const limit = Date.now() + 150_000;
    const timeline: { t: number; slots: string }[] = [];
    const watch = () => {
      const now = JSON.stringify(kdamondsNow().filter((s) => s.running || s.configured));
      if (timeline.at(-1)?.slots !== now) timeline.push({ t: (Date.now() - started) / 1000, slots: now });
    };
    while (Date.now() < limit && domains.some((d) => convergedAt[d.name] === undefined)) {
      await sleep(1000);
      watch();
      for (const d of domains) if (convergedAt[d.name] === undefined && converged(d, placement(d.w!))) convergedAt[d.name] = (Date.now() - started) / 1000;
    }
    await sleep(2000); // it must stay put
    const slotsBoth = kdamondsNow();
    const end = domains.map((d, k) => {
      const m = managers[k]!;
      const last = m.windows().at(-1) ?? {};
      return {
        name: d.name,
        quotaPages: d.quota,
        hotPages: d.hotRead + d.hotWrite,
        coldPages: d.cold,
        placement: placement(d.w!),
        secondsToConverge: convergedAt[d.name],
        windows: m.windows().length,
        pagesMoved: (last.promoted ?? 0) + (last.demoted ?? 0),
        promoted: last.promoted,
        demoted: last.demoted,
        failed: last.failed,
        dramPagesReported: last.dram,
        kdamond: (k === 0 ? oa : ob).kdamond,
      };
    });
    report('two-domains-end', { domains: end, slots: slotsBoth.filter((s) => s.running), records: readRecords(RUN_DIR), timeline, stderr: managers.map((m) => m.stderr.slice(-1500)) });

    // Stop A: its kdamond is emptied; B's keeps running and B's manager keeps tracking.
    const bWindowsBefore = mb.windows().length;
    ma.proc.kill('SIGTERM');
    const stopA = await ma.next((e) => e.event === 'stopped' || e.event === 'exit', 30_000);
    const afterStop = kdamondsNow();
    await sleep(4000);
    const bWindowsAfter = mb.windows().length;
    report('two-domains-stop-a', {
      stopped: stopA,
      slotA: afterStop.find((s) => s.index === oa.kdamond),
      slotB: afterStop.find((s) => s.index === ob.kdamond),
      bWindowsBefore,
      bWindowsAfter,
      bPlacement: placement(B.w),
      bConverged: converged(B, placement(B.w)),
      records: readRecords(RUN_DIR),
    });

    // A manager killed with SIGKILL leaves its kdamond; the next one reclaims it.
    const mc = ManagerProcess.start(args(A));
    managers.push(mc);
    const oc = await mc.next((e) => e.event === 'opened' || e.event === 'error', 60_000);
    await mc.next((e) => e.event === 'window', 30_000);
    mc.proc.kill('SIGKILL');
    await mc.next((e) => e.event === 'exit', 10_000);
    await sleep(300);
    const orphan = kdamondsNow().find((s) => s.index === oc.kdamond);
    const recordsAfterKill = readRecords(RUN_DIR);
    const md = ManagerProcess.start(args(A));
    managers.push(md);
    const od = await md.next((e) => e.event === 'opened' || e.event === 'error', 60_000);
    await md.next((e) => e.event === 'window', 30_000);
    const afterReclaim = kdamondsNow();
    report('two-domains-sigkill', {
      killedKdamond: oc.kdamond,
      orphan,
      recordsAfterKill,
      reclaimerKdamond: od.kdamond,
      reclaimerError: od.event === 'error' ? od.message : undefined,
      running: afterReclaim.filter((s) => s.running),
      slotB: afterReclaim.find((s) => s.index === ob.kdamond),
      records: readRecords(RUN_DIR),
      bWindowsNow: mb.windows().length,
      bManagerPid: mb.proc.pid,
      bManagerStartNow: processStart(mb.proc.pid!),
    });

    for (const m of [md, mb]) m.proc.kill('SIGTERM');
    const stops = await Promise.all([md, mb].map((m) => m.next((e) => e.event === 'stopped' || e.event === 'exit', 30_000)));
    const verify = await Promise.all(domains.map((d) => d.w!.verify()));
    report('two-domains-done', {
      stops: stops.map((s) => ({ event: s.event, ok: s.ok, failure: s.failure })),
      nrBefore,
      nrAfter: Number(readText(NR_KDAMONDS)),
      records: readRecords(RUN_DIR),
      slots: kdamondsNow().filter((s) => s.running || s.configured),
      verify,
      stderr: managers.map((m) => m.stderr.slice(-1500)),
      dmesg: spawnSync('dmesg', { encoding: 'utf8' }).stdout.split('\n').filter((l) => /damon|WARNING|BUG|mutex|Call Trace/i.test(l)).slice(-40),
    });
  } finally {
    for (const m of managers) if (m.exitCode === null) m.proc.kill('SIGKILL');
    for (const d of domains) d.w?.stop();
  }
}
