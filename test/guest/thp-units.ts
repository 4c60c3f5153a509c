/**
 * A guest RAM all in 2 MiB pages, INSIDE the test-bed guest: the workload
 * with every region under MADV_HUGEPAGE (as a QEMU's RAM under THP), a hot
 * half (hot-read + hot-write, 4 huge pages) and a cold half (4 huge pages).
 * The backend reports the units; the hot units start on node 1 (moved there
 * by naming each unit once); the engine runs with a quota of the hot half plus
 * less than a unit, until the hot units are on node 0 and the cold ones on
 * node 1. Measured: unit moves, pages moved, whether any huge page was split,
 * and the engine's DRAM/NVM counts against the kernel's.
 */
import { openLinuxHost, type LinuxMemoryHost } from '../../plugin/host/linux/linux-host.js';
import { UNIT_PAGES, Tier } from '../../plugin/host/memory-host.js';
import { readText, writeText } from '../../plugin/host/linux/sysfs.js';
import { countNode, nodesOfRange, report, Workload } from './guest-lib.js';

const HOT_READ = 1024;
const HOT_WRITE = 1024;
const COLD = 2048;
const QUOTA = HOT_READ + HOT_WRITE + 256; // room for the hot half, not for one more unit

export async function thpUnitsScenario(): Promise<void> {
  writeText('/proc/sys/kernel/numa_balancing', '0');
  const w = await Workload.start(HOT_READ, HOT_WRITE, COLD, 'all');
  let host: LinuxMemoryHost | undefined;
  /** Per region: pages on node 0 / 1, and huge pages not wholly on one node (split or half-moved). */
  const truth = () => {
    const out: Record<string, { node0: number; node1: number; unitsNotWhole: number }> = {};
    for (const r of w.regions) {
      const nodes = nodesOfRange(w.pid, BigInt(r.start), r.pages);
      let notWhole = 0;
      for (let u = 0; u + UNIT_PAGES <= r.pages; u += UNIT_PAGES) {
        const first = nodes[u]!;
        if (!nodes.subarray(u, u + UNIT_PAGES).every((n) => n === first)) notWhole++;
      }
      out[r.name] = { node0: countNode(nodes, 0), node1: countNode(nodes, 1), unitsNotWhole: notWhole };
    }
    return out;
  };
  try {
    host = await openLinuxHost({
      pid: w.pid,
      ram: w.regions.map((r) => ({ name: r.name, start: BigInt(r.start), lengthBytes: r.pages * 4096 })),
      dramNodes: [0],
      nvmNodes: [1],
      damon: { minRegions: 100, maxRegions: 1000 },
      damonRegistry: { runDir: '/run/hmmv/damon' },
    });
    const h = host;
    const units = await h.hugePageUnits();
    const hotHeads = Array.from(units).filter((u) => u < HOT_READ + HOT_WRITE);
    const setup = await h.migrate(Uint32Array.from(hotHeads), Tier.NVM);
    report('thp-units-start', {
      thpBytes: h.thpBytes(),
      units: units.length,
      unitHeads: Array.from(units),
      setup: { entries: hotHeads.length, moved: setup.moved, busy: setup.busy, failed: setup.failed, failures: setup.failures.slice(0, 3), unitMoves: h.unitMoves },
      placement: truth(),
      thpSetting: readText('/sys/kernel/mm/transparent_hugepage/enabled'),
      defrag: readText('/sys/kernel/mm/transparent_hugepage/defrag'),
    });
    const unitMovesBefore = h.unitMoves;

    const { startEngine, defaultEngineOptions } = await import('../../plugin/engine/run.js');
    const { wallClock } = await import('../../plugin/util/clock.js');
    const stop = new AbortController();
    const started = Date.now();
    let converged: number | undefined;
    let last: Record<string, unknown> = {};
    const windows: Record<string, unknown>[] = [];
    const buckets = (h: Uint32Array) => Object.fromEntries([...h.entries()].filter(([, n]) => n > 0));
    const engine = startEngine(h, wallClock, {
      ...defaultEngineOptions(QUOTA),
      roundsPerWindow: 4,
      roundIntervalNs: 100e6,
      migrationBytesPerSec: 64 << 20,
      onWindow: (s) => {
        last = { window: s.window, dram: s.dramPages, nvm: s.nvmPages, promoted: s.totals.promoted, demoted: s.totals.demoted, planned: s.planned };
        const nvmHist = s.histogram.map((n, t) => n - s.dramHistogram[t]!);
        windows.push({ ...last, dramTemps: buckets(s.dramHistogram), nvmTemps: buckets(nvmHist) });
        if (converged !== undefined) return;
        const t = truth();
        if (t['hot-read']!.node1 + t['hot-write']!.node1 === 0 && t['cold']!.node0 === 0) {
          converged = (Date.now() - started) / 1000;
          setTimeout(() => stop.abort(new Error('converged')), 2000);
        }
      },
    }, stop.signal);
    const limit = setTimeout(() => stop.abort(new Error('time limit')), 120_000);
    const totals = await engine.done;
    clearTimeout(limit);
    const end = truth();
    const snapshot = engine.lastSnapshot();
    report('thp-units-end', {
      converged,
      seconds: (Date.now() - started) / 1000,
      placement: end,
      totals: { promoted: totals.promoted, demoted: totals.demoted, busy: totals.busy, failed: totals.failed, lastFailures: totals.lastFailures.slice(0, 3) },
      unitMoves: h.unitMoves - unitMovesBefore,
      unitsReported: h.lastUnitCount,
      engineDram: snapshot?.dramPages,
      engineNvm: snapshot?.nvmPages,
      kernelDram: Object.values(end).reduce((n, r) => n + r.node0, 0),
      kernelNvm: Object.values(end).reduce((n, r) => n + r.node1, 0),
      last,
      windows: windows.slice(0, 4).concat(windows.slice(-3)),
      damonRegions: h.lastSnapshot.map((d) => `${d.start.toString(16)}-${d.end.toString(16)} n=${d.nrAccesses} age=${d.age}`),
      regions: w.regions,
      quotaPages: QUOTA,
      verify: await w.verify(),
    });
  } finally {
    await host?.close();
    w.stop();
  }
}
