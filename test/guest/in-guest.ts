/**
 * Runs INSIDE the test-bed guest (Debian's 6.12 kernel, two NUMA nodes):
 * drives the project's linux backend against the workload process (a stand-in
 * for QEMU's guest RAM with a known hot and cold region) and prints one
 * "HMMV-RESULT {json}" line per measured fact on the serial console. The mocha
 * suite on the host (test/host/linux/testbed.test.ts) asserts on them.
 * Scenarios (kernel command line hmmv.scenario=...): "all", or one of
 * "backend", "two-domains" (two managers at once, two-domains.ts), "thp"
 * (huge pages, thp-units.ts), "numa-balancing" (the kernel's baseline).
 */
import { spawnSync } from 'node:child_process';
import { bitmapFill, createBitmap } from '../../plugin/util/bitmap.js';
import { MigrationOutcome, Tier } from '../../plugin/host/memory-host.js';
import { openLinuxHost, type LinuxMemoryHost } from '../../plugin/host/linux/linux-host.js';
import { probeHost } from '../../plugin/host/linux/probe.js';
import { readTopology } from '../../plugin/host/linux/topology.js';
import { readText, writeText } from '../../plugin/host/linux/sysfs.js';
import { fractionSet, pageHashes, perRegion, range, regionPages, report, sleep, uptime, Workload } from './guest-lib.js';
import { thpUnitsScenario } from './thp-units.js';
import { twoDomainScenario } from './two-domains.js';

function nodesOf(host: LinuxMemoryHost, pages: Uint32Array): Int32Array {
  return host.queryNodes(pages);
}

async function backendScenario(): Promise<void> {
  const topo = readTopology();
  report('topology', { topology: topo });

  // The kernel's own NUMA balancing (on by default in Debian's kernel) would
  // move pages back behind the backend's back: the backend refuses to start
  // with it on. Show that, then turn it off for the checks.
  writeText('/proc/sys/kernel/numa_balancing', '1');
  const HOT_READ = 1024;
  const HOT_WRITE = 512;
  const COLD = 2048;
  const w = await Workload.start(HOT_READ, HOT_WRITE, COLD);
  let host: LinuxMemoryHost | undefined;
  try {
    const ram = w.regions.map((r) => ({ name: r.name, start: BigInt(r.start), lengthBytes: r.pages * 4096 }));
    try {
      await openLinuxHost({ pid: w.pid, ram, dramNodes: [0], nvmNodes: [1] });
      report('refuses-numa-balancing', { threw: false });
    } catch (err) {
      report('refuses-numa-balancing', { threw: true, message: (err as Error).message });
    }
    writeText('/proc/sys/kernel/numa_balancing', '0');
    host = await openLinuxHost({
      pid: w.pid,
      ram,
      dramNodes: [0],
      nvmNodes: [1],
      damon: { sampleUs: 5000, aggrUs: 100_000, updateUs: 1_000_000, minRegions: 100, maxRegions: 1000 },
    });
    report('opened', { info: host.info, pageCount: host.pageCount, regions: host.regions().map((r) => ({ ...r, hostVirtAddr: r.hostVirtAddr?.toString(16) })) });
    const all = createBitmap(host.pageCount);
    bitmapFill(all, host.pageCount);

    // Tier map at start: the workload ran on node 0's CPUs, so all on DRAM.
    const tierMap = createBitmap(host.pageCount);
    await host.readTierMap(tierMap);
    report('tiers-at-start', { nvmFraction: perRegion(host, tierMap), usage: await host.tierUsage() });

    // Accessed bits: let DAMON settle its regions, clear, wait, test.
    await sleep(3000);
    await host.testAndClearAccessed(all, createBitmap(host.pageCount));
    const accessedRounds: Record<string, number>[] = [];
    const accessedMs: number[] = [];
    const snapshotMs: { request: number; read: number }[] = [];
    for (let round = 0; round < 3; round++) {
      await sleep(1500);
      const accessed = createBitmap(host.pageCount);
      const t = Date.now();
      await host.testAndClearAccessed(all, accessed);
      accessedMs.push(Date.now() - t);
      snapshotMs.push(host.damon.lastSnapshotMs);
      accessedRounds.push(perRegion(host, accessed));
    }
    const damonRegions = host.lastSnapshot
      .filter((d) => d.end > BigInt(w.regions[0]!.start) && d.start < BigInt(w.regions[2]!.start) + BigInt(COLD * 4096))
      .map((d) => `${d.start.toString(16)}-${d.end.toString(16)} n=${d.nrAccesses} age=${d.age}`);
    report('accessed', { rounds: accessedRounds, callMs: accessedMs, snapshotMs, damonRegionCount: host.lastSnapshot.length, damonRegions, workloadRegions: w.regions, diagnostics: host.diagnostics() });

    // Dirty bits: clear, wait, test; then the emulated dirty log.
    await host.testAndClearDirty(all, createBitmap(host.pageCount));
    await sleep(1000);
    const dirty = createBitmap(host.pageCount);
    await host.testAndClearDirty(all, dirty);
    report('dirty', { fraction: perRegion(host, dirty) });
    await host.drainDirtyLog();
    await sleep(1000);
    const tDrain = Date.now();
    const drain = await host.drainDirtyLog();
    const drainMs = Date.now() - tDrain;
    const logMap = createBitmap(host.pageCount);
    for (let k = 0; k < drain.count; k++) logMap[drain.pages[k]! >>> 5]! |= 1 << (drain.pages[k]! & 31);
    report('dirty-log', { drainMs, count: drain.count, overflowed: drain.overflowed, fraction: perRegion(host, logMap) });
    // A log smaller than the written set overflows; the full scan then finds the pages.
    host.dirtyLogCapacity = 100;
    await host.drainDirtyLog();
    await sleep(1000);
    const over = await host.drainDirtyLog();
    const full = createBitmap(host.pageCount);
    await host.testAndClearDirty(all, full);
    host.dirtyLogCapacity = 1 << 20;
    report('dirty-log-overflow', { overflowed: over.overflowed, count: over.count, fullScan: perRegion(host, full) });
    // Scan-set semantics: pages outside the scan set keep their dirty evidence.
    await host.testAndClearDirty(all, createBitmap(host.pageCount));
    await sleep(1000);
    const rp = regionPages(host);
    const half = createBitmap(host.pageCount);
    for (let i = rp['hot-write']!.first; i < rp['hot-write']!.first + rp['hot-write']!.count / 2; i++) half[i >>> 5]! |= 1 << (i & 31);
    process.kill(w.pid, 'SIGSTOP'); // no writes between the two reads below
    const d1 = createBitmap(host.pageCount);
    await host.testAndClearDirty(half, d1);
    const d2 = createBitmap(host.pageCount);
    await host.testAndClearDirty(all, d2);
    process.kill(w.pid, 'SIGCONT');
    const halfCount = rp['hot-write']!.count / 2;
    const firstHalf = rp['hot-write']!.first;
    const secondHalf = firstHalf + halfCount;
    report('dirty-scan-set', {
      firstCall: { scanned: fractionSet(d1, firstHalf, halfCount), notScanned: fractionSet(d1, secondHalf, halfCount) },
      secondCall: { firstHalf: fractionSet(d2, firstHalf, halfCount), secondHalf: fractionSet(d2, secondHalf, halfCount) },
      otherRegions: { firstCall: perRegion(host, d1), secondCall: perRegion(host, d2) },
    });

    // Migration: chosen pages to node 1 while the workload keeps writing, then back.
    const hr = rp['hot-read']!;
    const hw = rp['hot-write']!;
    const cold = rp['cold']!;
    const chosen = Uint32Array.from([...range(cold.first, cold.count, 2), ...range(hw.first, hw.count, 2), ...range(hr.first, hr.count / 2)]);
    const chosenSet = new Set(chosen);
    const others = Uint32Array.from(range(0, host.pageCount).filter((i) => !chosenSet.has(i)));
    const stableBefore = [...pageHashes(w.pid, BigInt(w.regions[0]!.start), HOT_READ), ...pageHashes(w.pid, BigInt(w.regions[2]!.start), COLD)];
    const versionBefore = (await w.verify()).hotWriteVersion0!;
    const t1 = process.hrtime.bigint();
    const toNvm = await host.migrate(chosen, Tier.NVM);
    const sec1 = Number(process.hrtime.bigint() - t1) / 1e9;
    const nodesChosen = nodesOf(host, chosen);
    const nodesOthers = nodesOf(host, others);
    const count = (a: Int32Array, v: number) => a.reduce((n, x) => n + (x === v ? 1 : 0), 0);
    const stableMid = [...pageHashes(w.pid, BigInt(w.regions[0]!.start), HOT_READ), ...pageHashes(w.pid, BigInt(w.regions[2]!.start), COLD)];
    const verifyMid = await w.verify();
    report('move-to-nvm', {
      requested: chosen.length,
      moved: toNvm.moved,
      busy: toNvm.busy,
      failed: toNvm.failed,
      failures: toNvm.failures.slice(0, 5),
      chosenOnNode1: count(nodesChosen, 1),
      othersOnNode0: count(nodesOthers, 0),
      others: others.length,
      stableUnchanged: stableMid.every((h, i) => h === stableBefore[i]),
      verify: verifyMid,
      hotWriteVersionAdvanced: verifyMid.hotWriteVersion0! > versionBefore,
      seconds: sec1,
      pauseMs: toNvm.pauseNs / 1e6,
      maxPauseMs: toNvm.maxPauseNs / 1e6,
    });
    await host.readTierMap(tierMap);
    report('tiers-after-move', { nvmFraction: perRegion(host, tierMap), usage: await host.tierUsage() });
    const again = await host.migrate(chosen, Tier.NVM);
    report('move-again', { alreadyThere: again.outcome.filter((o) => o === MigrationOutcome.AlreadyThere).length, moved: again.moved, requested: chosen.length });

    const toDram = await host.migrate(chosen, Tier.DRAM);
    const nodesBack = nodesOf(host, chosen);
    const stableAfter = [...pageHashes(w.pid, BigInt(w.regions[0]!.start), HOT_READ), ...pageHashes(w.pid, BigInt(w.regions[2]!.start), COLD)];
    const verifyEnd = await w.verify();
    report('move-back', {
      requested: chosen.length,
      moved: toDram.moved,
      failed: toDram.failed,
      chosenOnNode0: count(nodesBack, 0),
      othersOnNode0: count(nodesOf(host, others), 0),
      stableUnchanged: stableAfter.every((h, i) => h === stableBefore[i]),
      verify: verifyEnd,
      hotWriteVersionAdvanced: verifyEnd.hotWriteVersion0! > verifyMid.hotWriteVersion0!,
    });

    // Bad input: a page outside guest RAM is a clear error, nothing moved.
    try {
      await host.migrate(Uint32Array.from([host.pageCount + 5]), Tier.NVM);
      report('bad-page', { threw: false });
    } catch (err) {
      report('bad-page', { threw: true, message: (err as Error).message });
    }

    // Throughput (TCG: for the record only): the whole cold region there and back.
    const coldPages = range(cold.first, cold.count);
    const t2 = process.hrtime.bigint();
    const there = await host.migrate(coldPages, Tier.NVM);
    const s2 = Number(process.hrtime.bigint() - t2) / 1e9;
    const t3 = process.hrtime.bigint();
    const back = await host.migrate(coldPages, Tier.DRAM);
    const s3 = Number(process.hrtime.bigint() - t3) / 1e9;
    report('throughput', {
      pages: coldPages.length,
      toNvm: { moved: there.moved, seconds: s2, mibPerSec: (there.moved * 4096) / 2 ** 20 / s2 },
      toDram: { moved: back.moved, seconds: s3, mibPerSec: (back.moved * 4096) / 2 ** 20 / s3 },
    });
  } finally {
    await host?.close();
    w.stop();
  }
}

/**
 * kernel.numa_balancing = 2 (memory-tiering mode) as a baseline for later
 * comparison: is it accepted, and does the kernel promote a hot region that
 * starts on the slow node by itself? (Recorded, not a goal of the backend.)
 */
async function numaBalancingBaseline(): Promise<void> {
  const before = readText('/proc/sys/kernel/numa_balancing');
  let accepted = true;
  let error: string | undefined;
  try {
    writeText('/proc/sys/kernel/numa_balancing', '2');
    writeText('/sys/kernel/mm/numa/demotion_enabled', 'true');
  } catch (err) {
    accepted = false;
    error = (err as Error).message;
  }
  const w = await Workload.start(1024, 512, 2048);
  let host: LinuxMemoryHost | undefined;
  const timeline: { second: number; hotOnNode0: number; coldOnNode0: number }[] = [];
  try {
    host = await openLinuxHost({
      pid: w.pid,
      ram: w.regions.map((r) => ({ name: r.name, start: BigInt(r.start), lengthBytes: r.pages * 4096 })),
      dramNodes: [0],
      nvmNodes: [1],
      allowNumaBalancing: true,
    });
    const rp = regionPages(host);
    const hot = Uint32Array.from([...range(rp['hot-read']!.first, rp['hot-read']!.count), ...range(rp['hot-write']!.first, rp['hot-write']!.count)]);
    const cold = range(rp['cold']!.first, rp['cold']!.count);
    await host.migrate(hot, Tier.NVM);
    const started = Date.now();
    for (let i = 0; i <= 10; i++) {
      const h = host.queryNodes(hot);
      const c = host.queryNodes(cold);
      const on0 = (a: Int32Array) => Number((a.reduce((n, x) => n + (x === 0 ? 1 : 0), 0) / a.length).toFixed(3));
      timeline.push({ second: Math.round((Date.now() - started) / 1000), hotOnNode0: on0(h), coldOnNode0: on0(c) });
      if (on0(h) >= 0.99) break;
      await sleep(2000);
    }
  } finally {
    await host?.close();
    w.stop();
  }
  const vmstat = readText('/proc/vmstat') ?? '';
  const stat = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(vmstat)?.[1] ?? NaN);
  report('numa-balancing', {
    before,
    after: readText('/proc/sys/kernel/numa_balancing'),
    accepted,
    error,
    demotionEnabled: readText('/sys/kernel/mm/numa/demotion_enabled'),
    memoryTiers: readTopology().memoryTiers,
    timeline,
    pgpromoteSuccess: stat('pgpromote_success'),
    numaHintFaults: stat('numa_hint_faults'),
  });
}

/**
 * Transparent huge pages: the backend reports guest RAM backed by THP, and
 * move_pages moves a huge page whole (the kernel's choice; hmmv never splits).
 */
async function thpScenario(): Promise<void> {
  writeText('/proc/sys/kernel/numa_balancing', '0');
  const w = await Workload.start(16, 16, 2048, 'cold');
  let host: LinuxMemoryHost | undefined;
  try {
    host = await openLinuxHost({
      pid: w.pid,
      ram: w.regions.map((r) => ({ name: r.name, start: BigInt(r.start), lengthBytes: r.pages * 4096 })),
      dramNodes: [0],
      nvmNodes: [1],
    });
    const cold = regionPages(host)['cold']!;
    const one = await host.migrate(Uint32Array.of(cold.first + 5), Tier.NVM);
    const hugePage = host.queryNodes(range(cold.first, 512));
    report('thp', {
      thpBytes: host.thpBytes(),
      infoThpBytes: host.info.thpBytes,
      movedNamed: one.moved,
      hugePageOnNode1: hugePage.reduce((n, x) => n + (x === 1 ? 1 : 0), 0),
      thpSetting: readText('/sys/kernel/mm/transparent_hugepage/enabled'),
    });
  } finally {
    await host?.close();
    w.stop();
  }
}

async function main(scenario: string): Promise<void> {
  const wanted = new Set(scenario.split(','));
  const runs = (name: string) => wanted.has(name) || wanted.has('all');
  report('started', { scenario, uptime: uptime() });
  report('probe', { probe: probeHost() });
  const cli = spawnSync(process.execPath, ['dist/plugin/cli.js', 'host', 'check'], { encoding: 'utf8' });
  report('host-check', { status: cli.status, stdout: cli.stdout, stderr: cli.stderr });
  if (runs('backend')) await backendScenario();
  if (runs('two-domains')) await twoDomainScenario();
  if (runs('thp')) await thpScenario();
  if (runs('thp')) await thpUnitsScenario();
  if (runs('numa-balancing')) await numaBalancingBaseline();
  report('done', { uptime: uptime() });
}

main(process.argv[2] ?? 'all').then(
  () => process.exit(0),
  (err: Error) => {
    report('error', { message: err.message, stack: err.stack });
    process.exit(1);
  },
);
