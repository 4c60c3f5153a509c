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
    writeFileSync(join(cacheDir, 'last-run.json'), JSON.stringify({ bootSeconds: guest.bootSeconds, totalSeconds: guest.totalSeconds, results: guest.results }, null, 2));
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

  it('the engine loop, DRAM quota below the footprint, ends with the hot regions on node 0 and the cold one on node 1', () => {
    const start = result('engine-start');
    assert.ok(start.quotaPages < start.footprintPages);
    assert.deepEqual(start.nvmFraction, { 'hot-read': 1, 'hot-write': 1, cold: 0 }, 'starts from the worst placement');
    const end = result('engine-end');
    const slack = (start.quotaPages - 1536) / 2048; // DRAM left over for cold pages once the hot ones are in
    // DAMON reports regions, not pages: a hot page at a region's edge may look cold, so 1% is allowed either way.
    const hotInNvm = end.nvmFraction['hot-read'] * 1024 + end.nvmFraction['hot-write'] * 512;
    assert.ok(hotInNvm <= 0.01 * 1536, `hot pages on node 1: ${hotInNvm}; ${JSON.stringify(end)}`);
    assert.ok(end.nvmFraction.cold >= 1 - slack - 0.01, JSON.stringify(end));
    assert.ok(end.converged !== undefined, 'placement reached before the time limit');
    assert.equal(end.totals.failed, 0);
    assert.deepEqual([end.verify.badHotRead, end.verify.badHotWrite, end.verify.badCold], [0, 0, 0], 'no write lost while the engine moved pages');
    console.log(`      engine converged in ${end.converged} s (${end.windowCount} windows, promoted ${end.totals.promoted}, demoted ${end.totals.demoted})`);
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
