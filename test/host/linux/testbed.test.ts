/**
 * The linux backend on a real two-tier Linux host: a TCG guest running
 * Debian's 6.12 cloud kernel with two NUMA nodes (node 1 on a
 * memory-backend-file, the stand-in for NVM). One boot runs every check inside
 * the guest (test/guest/in-guest.ts) against a workload with a known hot and
 * cold region; each `it` below asserts on one reported fact. What was measured
 * is also written to .cache/testbed/last-run.json.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootGuest, cacheDir, type GuestRun, type GuestResult } from '../../guest/testbed.js';

describe('linux host backend in a two-node 6.12 TCG guest', function () {
  let guest: GuestRun;

  before(async function () {
    this.timeout(15 * 60_000); // bounded wait: first run downloads the kernel and builds the initramfs
    guest = await bootGuest({ scenario: 'all', timeoutMs: 10 * 60_000 });
    mkdirSync(cacheDir, { recursive: true });
    const tree = guest.results.find((r) => r.check === 'recorded-tree');
    writeFileSync(join(cacheDir, 'last-run.json'), JSON.stringify({ bootSeconds: guest.bootSeconds, totalSeconds: guest.totalSeconds, results: guest.results.filter((r) => r !== tree) }, null, 2));
    // The kernel tree as two hmmv kdamonds ran (test/host/linux/fixtures/guest-6.12 is one of these).
    if (tree) writeFileSync(join(cacheDir, 'guest-tree.json'), JSON.stringify(tree.tree, null, 1));
  });

  const result = (check: string): GuestResult & Record<string, any> => {
    const error = guest.results.find((r) => r.check === 'error');
    const r = guest.results.find((x) => x.check === check);
    assert.ok(r, `the guest reported no "${check}"${error ? `; it failed: ${String(error.message)}\n${String(error.stack)}` : ''}\nconsole tail:\n${guest.console.slice(-2000)}`);
    return r as GuestResult & Record<string, any>;
  };

  it('the guest ran the whole program', () => {
    result('done');
    assert.equal(guest.exitCode, 0);
  });

  it('the 6.12 kernel offers DAMON vaddr, soft-dirty, move_pages and two NUMA nodes (and no page_idle)', () => {
    const probe = result('probe').probe as { canRun: boolean; accessTracker: string; capabilities: { id: string; present: boolean; detail: string }[] };
    const present = Object.fromEntries(probe.capabilities.map((c) => [c.id, c.present]));
    assert.deepEqual(
      { damon: present['damon-vaddr'], softDirty: present['soft-dirty'], movePages: present['move-pages'], numa: present['numa-nodes'], pageIdle: present['page-idle'] },
      { damon: true, softDirty: true, movePages: true, numa: true, pageIdle: false },
      JSON.stringify(probe.capabilities, null, 1),
    );
    assert.equal(probe.canRun, true);
    assert.equal(probe.accessTracker, 'damon-vaddr');
  });

  it('`hmmv host check` in the guest says ready and exits 0', () => {
    const r = result('host-check');
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    for (const id of ['damon-vaddr', 'soft-dirty', 'move-pages', 'numa-nodes', 'privileges']) assert.match(r.stdout, new RegExp(`^  ${id} +present `, 'm'));
    assert.match(r.stdout, /^  page-idle +missing .*\n.*CONFIG_IDLE_PAGE_TRACKING/m);
    assert.match(r.stdout, /^ready: accessed bits from damon-vaddr, dirty bits from soft-dirty, migration by move_pages$/m);
  });

  it('the backend refuses to start while kernel.numa_balancing is on, saying why', () => {
    const r = result('refuses-numa-balancing');
    assert.equal(r.threw, true);
    assert.match(r.message, /kernel\.numa_balancing is 1: .*undoes hmmv's placement; turn it off \(sysctl kernel\.numa_balancing=0\)/);
  });

  it('all workload pages start on node 0 (DRAM)', () => {
    assert.deepEqual(result('tiers-at-start').nvmFraction, { 'hot-read': 0, 'hot-write': 0, cold: 0 });
  });

  it('DAMON reports the hot regions accessed and the cold one not', () => {
    const rounds = result('accessed').rounds as Record<string, number>[];
    // DAMON samples regions, and under TCG on a loaded host one round can misjudge
    // while it re-splits them: at least one round must be clean, and on average the
    // hot regions must read far hotter than the cold one.
    const clean = rounds.some((r) => r['hot-read']! >= 0.9 && r['hot-write']! >= 0.9 && r['cold']! <= 0.1);
    assert.ok(clean, `no round with the hot regions accessed and the cold one not: ${JSON.stringify(rounds)}`);
    const mean = (k: string) => rounds.reduce((sum, r) => sum + r[k]!, 0) / rounds.length;
    assert.ok(Math.min(mean('hot-read'), mean('hot-write')) > mean('cold') + 0.5, JSON.stringify(rounds));
  });

  it("the host's diagnostics count every DAMON snapshot asked for and the regions they returned", () => {
    const d = result('accessed').diagnostics as Record<string, number>;
    // four testAndClearAccessed calls 1.5 s apart: each asked for a snapshot (a busy one is counted apart)
    assert.ok(d['damonSnapshots']! + d['busySnapshots']! >= 4, JSON.stringify(d));
    assert.ok(d['damonRegionsPerSnapshot']! >= 1 && d['damonRegionsPerSnapshot']! <= d['damonMaxRegions']!, JSON.stringify(d));
  });

  it('soft-dirty shows writes as dirty and reads as clean', () => {
    assert.deepEqual(result('dirty').fraction, { 'hot-read': 0, 'hot-write': 1, cold: 0 });
  });

  it('the emulated dirty log drains exactly the written pages', () => {
    const log = result('dirty-log');
    assert.equal(log.overflowed, false);
    assert.deepEqual(log.fraction, { 'hot-read': 0, 'hot-write': 1, cold: 0 });
  });

  it('a dirty log smaller than the written set overflows, and the full scan then finds every written page', () => {
    const r = result('dirty-log-overflow');
    assert.equal(r.overflowed, true);
    assert.equal(r.count, 0);
    assert.deepEqual(r.fullScan, { 'hot-read': 0, 'hot-write': 1, cold: 0 });
  });

  it('testAndClearDirty leaves pages outside the scan set alone', () => {
    const r = result('dirty-scan-set');
    assert.deepEqual(r.firstCall, { scanned: 1, notScanned: 0 });
    assert.deepEqual(r.secondCall, { firstHalf: 0, secondHalf: 1 }, 'unscanned pages kept their dirty evidence; scanned ones were cleared');
  });

  it('move_pages moves exactly the chosen pages to node 1, contents intact while the workload writes', () => {
    const r = result('move-to-nvm');
    assert.equal(r.moved, r.requested, JSON.stringify(r.failures));
    assert.equal(r.chosenOnNode1, r.requested);
    assert.equal(r.othersOnNode0, r.others, 'pages not named stay on node 0');
    assert.equal(r.stableUnchanged, true, 'checksums of the read-only regions unchanged');
    assert.deepEqual([r.verify.badHotRead, r.verify.badHotWrite, r.verify.badCold], [0, 0, 0], 'the workload finds every page as it last wrote it');
    assert.equal(r.hotWriteVersionAdvanced, true, 'the workload kept writing during the move');
    assert.deepEqual(result('tiers-after-move').nvmFraction, { 'hot-read': 0.5, 'hot-write': 0.5, cold: 0.5 });
  });

  it('moving pages already on the target reports them AlreadyThere', () => {
    const r = result('move-again');
    assert.equal(r.alreadyThere, r.requested);
    assert.equal(r.moved, 0);
  });

  it('move_pages brings them back to node 0 with contents intact', () => {
    const r = result('move-back');
    assert.equal(r.moved, r.requested);
    assert.equal(r.chosenOnNode0, r.requested);
    assert.equal(r.stableUnchanged, true);
    assert.deepEqual([r.verify.badHotRead, r.verify.badHotWrite, r.verify.badCold], [0, 0, 0]);
    assert.equal(r.hotWriteVersionAdvanced, true);
  });

  it('a page outside guest RAM is a clear error', () => {
    const r = result('bad-page');
    assert.equal(r.threw, true);
    assert.match(r.message, /page \d+ is outside guest RAM \(\d+ pages\)/);
  });

  it('measures move_pages throughput (TCG speed, for the record)', () => {
    const r = result('throughput');
    assert.equal(r.toNvm.moved, r.pages);
    assert.equal(r.toDram.moved, r.pages);
    console.log(`      move_pages in the TCG guest: to node 1 ${r.toNvm.mibPerSec.toFixed(1)} MiB/s, to node 0 ${r.toDram.mibPerSec.toFixed(1)} MiB/s; boot ${guest.bootSeconds.toFixed(1)} s, run ${guest.totalSeconds.toFixed(1)} s`);
  });

  it('two backends at once: clear_refs and move_pages of one process leave the other alone; each has its own kdamond', () => {
    const r = result('two-domains-isolation');
    assert.deepEqual(r.dirtyB, { 'hot-read': 0, 'hot-write': 1, cold: 0 }, "B's soft-dirty bits survived A's clear_refs (B was stopped meanwhile)");
    assert.deepEqual(r.dirtyA, { 'hot-read': 0, 'hot-write': 1, cold: 0 });
    assert.equal(r.movedA, r.backA);
    assert.ok(r.movedA > 0);
    assert.deepEqual(r.bDuringAMove, r.bBefore, "A's move_pages left B's pages where they were");
    assert.notEqual(r.kdamonds[0], r.kdamonds[1]);
    assert.deepEqual(r.slots.map((s: { index: number }) => s.index).sort(), [...r.kdamonds].sort(), 'exactly the two claimed kdamonds run');
    assert.equal(r.records.length, 2);
    const released = result('two-domains-released');
    assert.deepEqual([released.records, released.slots], [[], []], 'closing both gives both kdamonds back');
  });

  it('two managers with different quotas: each hot region ends on node 0 and each cold region on node 1, within its own quota', () => {
    const start = result('two-domains-start');
    for (const d of start.domains) assert.equal(d.placement['hot-read'].node0 + d.placement['hot-write'].node0, 0, `${d.name} starts with its hot region on node 1`);
    const end = result('two-domains-end');
    const rows: string[] = [];
    for (const d of end.domains) {
      const p = d.placement;
      const hotOnNvm = p['hot-read'].node1 + p['hot-write'].node1;
      const dram = p['hot-read'].node0 + p['hot-write'].node0 + p.cold.node0;
      assert.ok(d.secondsToConverge !== undefined, `${d.name} did not converge: ${JSON.stringify(d)}`);
      assert.ok(hotOnNvm <= 0.01 * d.hotPages, `${d.name}: ${hotOnNvm} hot pages on node 1`);
      assert.ok(dram <= d.quotaPages, `${d.name}: ${dram} pages on node 0 over its quota ${d.quotaPages}`);
      assert.ok(p.cold.node1 >= d.coldPages - (d.quotaPages - d.hotPages) - 0.01 * d.coldPages, `${d.name}: cold on node 1 ${p.cold.node1}`);
      assert.equal(d.failed, 0);
      rows.push(`${d.name}: quota ${d.quotaPages}, hot ${p['hot-read'].node0 + p['hot-write'].node0}/${hotOnNvm} (node 0/1), cold ${p.cold.node0}/${p.cold.node1}, moved ${d.pagesMoved} pages, converged in ${d.secondsToConverge} s (${d.windows} windows, kdamond ${d.kdamond})`);
    }
    assert.notEqual(end.domains[0].kdamond, end.domains[1].kdamond);
    console.log(rows.map((r) => `      ${r}`).join('\n'));
  });

  it("stopping one manager empties its kdamond and leaves the other's running and tracking", () => {
    const r = result('two-domains-stop-a');
    assert.equal(r.stopped.event, 'stopped', JSON.stringify(r.stopped));
    assert.equal(r.stopped.ok, true);
    assert.deepEqual([r.slotA.running, r.slotA.configured], [false, false]);
    assert.equal(r.slotB.running, true);
    assert.equal(r.slotB.targetPid, result('two-domains-start').domains[1].pid);
    assert.ok(r.bWindowsAfter > r.bWindowsBefore, `B kept closing windows (${r.bWindowsBefore} -> ${r.bWindowsAfter})`);
    assert.equal(r.bConverged, true, JSON.stringify(r.bPlacement));
    assert.equal(r.records.length, 1);
  });

  it("a manager killed with SIGKILL leaves its kdamond running; the next start reclaims it without touching the other's", () => {
    const r = result('two-domains-sigkill');
    assert.equal(r.orphan.running, true, 'the killed manager could not turn its kdamond off');
    assert.equal(r.recordsAfterKill.length, 2, 'its record stays behind');
    assert.equal(r.reclaimerError, undefined);
    assert.equal(r.reclaimerKdamond, r.killedKdamond, 'reclaimed and taken again');
    assert.equal(r.running.length, 2, JSON.stringify(r.running));
    assert.deepEqual([r.slotB.running, r.slotB.targetPid], [true, result('two-domains-start').domains[1].pid], "B's kdamond untouched");
    assert.equal(r.records.length, 2);
    const done = result('two-domains-done');
    assert.deepEqual(done.stops.map((s: { event: string; ok: boolean }) => [s.event, s.ok]), [['stopped', true], ['stopped', true]]);
    assert.equal(done.nrAfter, done.nrBefore, 'the last one out restored nr_kdamonds');
    assert.deepEqual([done.records, done.slots], [[], []]);
    for (const v of done.verify) assert.deepEqual([v.badHotRead, v.badHotWrite, v.badCold], [0, 0, 0], 'no write lost in either process');
  });

  it('guest RAM all in 2 MiB pages: units reported, moved whole by naming each once, hot units end in DRAM, counts right', () => {
    const start = result('thp-units-start');
    assert.equal(start.units, 8, `8 huge pages expected (THP ${start.thpSetting}, defrag ${start.defrag}): ${JSON.stringify(start)}`);
    assert.deepEqual([start.setup.entries, start.setup.moved, start.setup.unitMoves, start.setup.failed], [4, 2048, 4, 0], 'four unit entries moved 2048 pages');
    const end = result('thp-units-end');
    const p = end.placement;
    assert.ok(end.converged !== undefined, JSON.stringify(end));
    assert.deepEqual([p['hot-read'].node0, p['hot-write'].node0, p.cold.node1], [1024, 1024, 2048], 'hot units on node 0, cold on node 1');
    assert.deepEqual([p['hot-read'].unitsNotWhole, p['hot-write'].unitsNotWhole, p.cold.unitsNotWhole], [0, 0, 0], 'no huge page split');
    assert.equal(end.unitsReported, 8, 'still 8 huge pages at the end');
    assert.equal(end.totals.promoted % 512, 0);
    assert.equal(end.totals.demoted % 512, 0);
    assert.equal(end.totals.promoted + end.totals.demoted, end.unitMoves * 512, 'pages moved = 512 per unit move');
    assert.deepEqual([end.engineDram, end.engineNvm], [end.kernelDram, end.kernelNvm], "the engine's DRAM/NVM counts are the kernel's");
    assert.ok(end.kernelDram <= end.quotaPages);
    assert.equal(end.totals.failed, 0);
    assert.deepEqual([end.verify.badHotRead, end.verify.badHotWrite, end.verify.badCold], [0, 0, 0]);
    console.log(`      THP: 8 units, converged in ${end.converged} s, ${end.unitMoves} unit moves = ${end.totals.promoted} promoted + ${end.totals.demoted} demoted pages; DRAM ${end.kernelDram} / quota ${end.quotaPages}`);
  });

  it('reports guest RAM backed by transparent huge pages, and a huge page moves whole (never split by hmmv)', () => {
    const r = result('thp');
    assert.ok(r.thpBytes >= 2 << 20, JSON.stringify(r));
    assert.equal(r.movedNamed, 1);
    assert.equal(r.hugePageOnNode1, 512, 'naming one 4 KiB page of a 2 MiB huge page moved all 512');
  });

  it('the guest kernel puts node 1 in a lower memory tier (from QEMU\'s ACPI HMAT)', () => {
    const tiers = result('numa-balancing').memoryTiers as { rank: number; nodes: number[] }[];
    const rankOf = (node: number) => tiers.find((t) => t.nodes.includes(node))?.rank;
    assert.ok(rankOf(1)! > rankOf(0)!, JSON.stringify(tiers));
  });

  it('numa_balancing = 2 (memory tiering mode) is accepted there as a baseline; how far it promotes in ~20 s is recorded', () => {
    const r = result('numa-balancing');
    assert.equal(r.accepted, true, r.error);
    assert.equal(r.after, '2');
    assert.equal(r.demotionEnabled, 'true');
    // The cold region is never touched: the kernel has no reason to promote or demote it.
    for (const t of r.timeline) assert.equal(t.coldOnNode0, 1, JSON.stringify(r.timeline));
    // Promotion itself is the kernel's and under TCG its pace varies from run to run (seen:
    // 72%..100% of the hot region in 20 s, once nothing at all), so it is recorded, not asserted.
    console.log(`      numa_balancing=2: hot region on node 0 over time ${JSON.stringify(r.timeline.map((t: { second: number; hotOnNode0: number }) => [t.second, t.hotOnNode0]))}, pgpromote_success ${r.pgpromoteSuccess}, numa_hint_faults ${r.numaHintFaults}`);
  });
});
