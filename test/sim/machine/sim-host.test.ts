import assert from 'node:assert/strict';
import { MigrationOutcome, Tier, type MigrationResult } from '../../../plugin/host/memory-host.js';
import { bitmapFill, bitmapGet, bitmapSet, createBitmap } from '../../../plugin/util/bitmap.js';
import { PML_BUFFER_ENTRIES, TLB_FLUSH_NS_PER_VCPU, SCAN_NS_PER_PAGE } from '../../../plugin/sim/machine/costs.js';
import { SimMachine } from '../../../plugin/sim/machine/machine.js';
import type { Policy } from '../../../plugin/sim/machine/policy.js';
import { ACCESSED, DIRTY, SimHost } from '../../../plugin/sim/machine/sim-host.js';
import { TierLoad } from '../../../plugin/sim/machine/tier-load.js';
import { tierPreset } from '../../../plugin/sim/machine/tiers.js';
import { VirtualClock } from '../../../plugin/sim/machine/virtual-clock.js';
import { encodeAccess, type Workload } from '../../../plugin/sim/workloads/workload.js';
import { xorshift } from '../inline-workloads.js';

function newHost(pageCount: number, opts: { hostLogEntries?: number; vcpus?: number; dram?: number } = {}) {
  const load = new TierLoad(tierPreset('optane'), opts.dram ?? pageCount, pageCount);
  const clock = new VirtualClock();
  const host = new SimHost(
    { name: 't', pageCount, vcpuCount: opts.vcpus ?? 1, firstTouchDramPages: Infinity, ...(opts.hostLogEntries ? { hostLogEntries: opts.hostLogEntries } : {}) },
    load,
    clock,
  );
  return { host, load, clock };
}

/** What the guest runner does on a write (vm-runner.ts), for tests that drive the host directly. */
function guestWrite(host: SimHost, page: number, vcpu = 0): void {
  if (host.tier[page]! > 1) host.allocateOnTouch(page);
  const word = page >>> 5;
  const bit = 1 << (page & 31);
  host.pageBits[(word << 2) | ACCESSED]! |= bit;
  host.version[page]!++;
  if ((host.pageBits[(word << 2) | DIRTY]! & bit) === 0) {
    host.pageBits[(word << 2) | DIRTY]! |= bit;
    host.logWrite(page, vcpu);
  }
}

describe('sim/machine/sim-host', () => {
  it('test-and-clear reports and clears only the scanned pages, and charges scan time and a TLB flush', async () => {
    const { host } = newHost(100, { vcpus: 2 });
    for (const p of [3, 40, 77]) guestWrite(host, p);
    const scan = createBitmap(100);
    bitmapSet(scan, 3);
    bitmapSet(scan, 40);
    bitmapSet(scan, 41);
    const seen = createBitmap(100);
    assert.equal(await host.testAndClearAccessed(scan, seen), 3);
    assert.deepEqual([3, 40, 41, 77].map((p) => bitmapGet(seen, p)), [true, true, false, false]);
    assert.equal(host.charges.scanNs, 3 * SCAN_NS_PER_PAGE);
    assert.equal(host.charges.tlbFlushNs, 2 * TLB_FLUSH_NS_PER_VCPU);
    // 77 was not scanned: its bit is still there for a later round; 3 and 40 were cleared.
    const all = createBitmap(100);
    bitmapFill(all, 100);
    const again = createBitmap(100);
    await host.testAndClearAccessed(all, again);
    assert.deepEqual([3, 40, 77].map((p) => bitmapGet(again, p)), [false, false, true]);
    await assert.rejects(host.testAndClearAccessed(new Uint32Array(1), again), /at least 100 bits/);
  });

  it('logs each written page once per drain, and a full PML buffer costs a VM exit', async () => {
    const { host } = newHost(4 * PML_BUFFER_ENTRIES);
    for (let p = 0; p < PML_BUFFER_ENTRIES + 10; p++) {
      guestWrite(host, p);
      guestWrite(host, p); // second write: dirty bit already set, not logged again
    }
    const drain = await host.drainDirtyLog();
    assert.equal(drain.count, PML_BUFFER_ENTRIES + 10);
    assert.equal(drain.bufferFullExits, 1);
    assert.equal(drain.overflowed, false);
    assert.ok(host.charges.pmlExitNs > 0);
    assert.deepEqual(Array.from(drain.pages.subarray(0, 3)), [0, 1, 2]);
    // Drained pages are re-armed: writing them again logs them again.
    guestWrite(host, 5);
    const next = await host.drainDirtyLog();
    assert.deepEqual(Array.from(next.pages.subarray(0, next.count)), [5]);
  });

  it('a host log that fills up drops entries and sets the overflow flag; a full dirty scan finds the dropped writes', async () => {
    const capacity = PML_BUFFER_ENTRIES; // room for one full buffer only
    const { host } = newHost(4 * PML_BUFFER_ENTRIES, { hostLogEntries: capacity, vcpus: 2 });
    const written = 3 * PML_BUFFER_ENTRIES;
    for (let p = 0; p < written; p++) guestWrite(host, p, p % 2);
    const drain = await host.drainDirtyLog();
    assert.equal(drain.overflowed, true);
    assert.equal(drain.count, capacity);
    assert.ok(drain.bufferFullExits >= 2);
    assert.equal(host.counters.pmlDropped, written - capacity);
    // Dropped pages keep their dirty bits: the full scan sees every one not drained.
    const all = createBitmap(host.pageCount);
    bitmapFill(all, host.pageCount);
    const dirty = createBitmap(host.pageCount);
    await host.testAndClearDirty(all, dirty);
    const drained = new Set(drain.pages);
    for (let p = 0; p < written; p++) assert.equal(bitmapGet(dirty, p) || drained.has(p), true, `write to page ${p} lost`);
    const after = await host.drainDirtyLog();
    assert.equal(after.overflowed, false, 'the flag is cleared by the drain that reported it');
  });

  it('migration takes the copy time on the clock, charges both tiers, and says why a page failed', async () => {
    const { host, clock, load } = newHost(64, { dram: 41 });
    for (let p = 0; p < 64; p++) guestWrite(host, p); // first touch: pages 0-40 in DRAM, 41-63 in NVM
    assert.equal(host.tier[40], Tier.DRAM);
    assert.equal(host.tier[41], Tier.NVM);
    const freeOne = host.migrate(Uint32Array.of(1), Tier.NVM);
    await clock.advanceTo(1e6);
    await freeOne.catch(() => undefined);
    let settled = false;
    const request = Uint32Array.of(41, 42, 42, 999, 2);
    const done = host.migrate(request, Tier.DRAM).then((r) => {
      settled = true;
      return r;
    });
    await clock.settle();
    assert.equal(settled, false, 'the copy takes simulated time');
    assert.ok(load.copyReadBytesPerSec[Tier.NVM]! > 0 && load.copyWriteBytesPerSec[Tier.DRAM]! > 0);
    await clock.advanceTo(1e9);
    const result = await done;
    const reason = (i: number): string => result.failures.find((f) => f.index === i)?.reason ?? '';
    assert.deepEqual(Array.from(result.outcome), [
      MigrationOutcome.Moved,
      MigrationOutcome.Failed,
      MigrationOutcome.Failed,
      MigrationOutcome.Failed,
      MigrationOutcome.AlreadyThere,
    ]);
    assert.match(reason(1), /no free dram page/);
    assert.match(reason(3), /page 999 is out of range/);
    assert.equal(load.copyReadBytesPerSec[Tier.NVM], 0);
    assert.ok(load.totalReadBytes[Tier.NVM]! >= 4096 && load.totalWriteBytes[Tier.DRAM]! >= 4096);
  });

  it('moves pages, reports a page listed twice, and keeps host usage consistent', async () => {
    const { host, clock, load } = newHost(64, { dram: 64 });
    for (let p = 0; p < 64; p++) guestWrite(host, p);
    const toNvm = host.migrate(Uint32Array.of(1, 2, 2), Tier.NVM);
    await clock.advanceTo(1e9);
    const r = await toNvm;
    assert.deepEqual(Array.from(r.outcome), [MigrationOutcome.Moved, MigrationOutcome.Moved, MigrationOutcome.Failed]);
    assert.match(r.failures[0]!.reason, /already being migrated/);
    assert.equal(r.bytesCopied, 2 * 4096);
    assert.ok(r.pauseNs > 0 && r.maxPauseNs > 0);
    assert.equal(host.tier[1], Tier.NVM);
    assert.deepEqual(Array.from(load.usedPages), [62, 2]);
    const usage = await host.tierUsage();
    assert.deepEqual(usage.map((u) => u.vmPages), [62, 2]);
    const map = createBitmap(64);
    await host.readTierMap(map);
    assert.deepEqual([0, 1, 2, 3].map((p) => bitmapGet(map, p)), [false, true, true, false]);
  });

  it('a copy aborted by its signal leaves the pages where they were, busy and not failed; a host closed under it fails them', async () => {
    const { host, clock, load } = newHost(64, { dram: 64 });
    for (let p = 0; p < 64; p++) guestWrite(host, p);
    const stop = new AbortController();
    const aborted = host.migrate(Uint32Array.of(3, 4), Tier.NVM, stop.signal);
    await clock.settle();
    stop.abort(new Error('policy stopped'));
    const r = await aborted;
    assert.deepEqual(Array.from(r.outcome), [MigrationOutcome.Busy, MigrationOutcome.Busy]);
    assert.deepEqual([r.moved, r.busy, r.failed, r.failures.length], [0, 2, 0, 0]);
    assert.deepEqual([host.tier[3], host.tier[4]], [Tier.DRAM, Tier.DRAM]);
    assert.deepEqual(Array.from(load.usedPages), [64, 0], 'the reserved NVM pages are given back');
    assert.deepEqual([host.counters.busy, host.counters.failed], [2, 0]);
    // the pages are free to move again
    const again = host.migrate(Uint32Array.of(3), Tier.NVM);
    await clock.advanceTo(1e9);
    assert.equal((await again).moved, 1);

    const closing = host.migrate(Uint32Array.of(5), Tier.NVM);
    await clock.settle();
    await host.close();
    await clock.advanceTo(2e9);
    const c = await closing;
    assert.deepEqual([c.busy, c.failed], [0, 1]);
    assert.match(c.failures[0]!.reason, /host closed during the copy/);
  });
});

/** A writer whose generated accesses are recorded, so a test can count the writes the guest really made. */
function recordingWriter(pageCount: number, writtenPages: number, seed: number) {
  const next = xorshift(seed);
  let log = new Uint32Array(1 << 16);
  let n = 0;
  const workload: Workload = {
    name: 'writer',
    pageCount,
    cpuNsPerOp: 100,
    accessesPerOp: 1,
    nextOps(ops: number, out: Uint32Array, lines: Uint16Array): void {
      lines.fill(0, 0, ops);
      if (n + ops > log.length) {
        const bigger = new Uint32Array(2 * (n + ops));
        bigger.set(log);
        log = bigger;
      }
      for (let i = 0; i < ops; i++) {
        // Half the writes hammer pages 0-7 (they stay Busy), the rest spread out (some get recopied).
        const r = next();
        const page = (r & 1) === 1 ? (r >>> 1) % 8 : next() % writtenPages;
        out[i] = encodeAccess(page, true);
        log[n++] = page;
      }
    },
  };
  return { workload, writesPerPage: (executedOps: number): Uint32Array => {
    const counts = new Uint32Array(pageCount);
    for (let i = 0; i < executedOps; i++) counts[log[i]!]!++;
    return counts;
  } };
}

/** Moves the written pages back and forth between the tiers, batch after batch, as fast as the copies go. */
function pingPongPolicy(batchPages: number, results: MigrationResult[]): Policy {
  return {
    name: 'ping-pong',
    description: 'test policy',
    hostDramPages: (c) => c,
    firstTouchDramPages: () => Infinity,
    start(ctx) {
      const host = ctx.vms[0]!.host;
      let failure: Error | undefined;
      const loop = (async () => {
        for (let round = 0; !ctx.signal.aborted; round++) {
          await ctx.clock.sleep(100e3, ctx.signal);
          const batch = new Uint32Array(batchPages);
          for (let i = 0; i < batchPages; i++) batch[i] = (round * 97 + i) % (2 * batchPages);
          const target = round % 2 === 0 ? Tier.NVM : Tier.DRAM;
          results.push(await host.migrate(batch, target, ctx.signal));
        }
      })().catch((err: unknown) => {
        if (!ctx.signal.aborted) failure = err as Error;
      });
      return { failure: () => failure, stop: async () => (await loop, []) };
    },
  };
}

describe('sim/machine/sim-host migration under concurrent writes', () => {
  it('never loses a write: every page holds exactly the writes the guest made, while pages are recopied and some reported Busy', async () => {
    const pageCount = 4096;
    const writer = recordingWriter(pageCount, pageCount, 7);
    const results: MigrationResult[] = [];
    const machine = new SimMachine(
      {
        preset: tierPreset('optane'),
        dramPages: pageCount,
        nvmPages: pageCount,
        vms: [{ name: 'vm0', workload: writer.workload, pageCount, vcpus: 2, dramQuotaPages: pageCount }],
        copyBytesPerSec: 2e9,
        contentTracking: true,
      },
      pingPongPolicy(64, results),
    );
    const run = await machine.run(50e6);
    const host = machine.hosts[0]!;
    const expected = writer.writesPerPage(machine.runners[0]!.stats.ops);
    let mismatches = 0;
    for (let p = 0; p < pageCount; p++) if (host.version[p] !== expected[p]) mismatches++;
    assert.equal(mismatches, 0, `${mismatches} pages lost writes`);
    const moved = results.reduce((s, r) => s + r.moved, 0);
    const recopies = results.reduce((s, r) => s + r.recopies, 0);
    const busy = results.reduce((s, r) => s + r.busy, 0);
    assert.ok(moved > 1000, `moved ${moved}`);
    assert.ok(recopies > 0, 'some pages were written during their copy and copied again');
    assert.ok(busy > 0, 'some pages kept being written and were left in place');
    assert.equal(run.vms[0]!.migratedToDram + run.vms[0]!.migratedToNvm, moved);
    assert.ok(run.vms[0]!.writes > 10_000);
  });

  it('the fast loop (versions bumped only for pages in flight) migrates exactly as the content-tracking loop does', async () => {
    const pageCount = 4096;
    const run = async (contentTracking: boolean) => {
      const writer = recordingWriter(pageCount, pageCount, 7);
      const results: MigrationResult[] = [];
      const machine = new SimMachine(
        {
          preset: tierPreset('optane'),
          dramPages: pageCount,
          nvmPages: pageCount,
          vms: [{ name: 'vm0', workload: writer.workload, pageCount, vcpus: 2, dramQuotaPages: pageCount }],
          copyBytesPerSec: 2e9,
          contentTracking,
        },
        pingPongPolicy(64, results),
      );
      const result = await machine.run(30e6);
      return { outcomes: results.map((r) => Array.from(r.outcome)), ops: result.vms[0]!.ops };
    };
    const fast = await run(false);
    const tracked = await run(true);
    assert.ok(fast.outcomes.flat().includes(2), 'some pages were Busy (written during their copies)');
    assert.deepEqual(fast, tracked);
  });
});

describe('sim/machine/sim-host management costs', () => {
  /** A policy that test-and-clears every page's accessed bit every `everyNs`. */
  const scanner = (everyNs: number): Policy => ({
    name: 'scanner',
    description: 'test policy',
    hostDramPages: (c) => c,
    firstTouchDramPages: () => Infinity,
    start(ctx) {
      const host = ctx.vms[0]!.host;
      const all = createBitmap(host.pageCount);
      bitmapFill(all, host.pageCount);
      const out = createBitmap(host.pageCount);
      const loop = (async () => {
        for (;;) {
          await ctx.clock.sleep(everyNs, ctx.signal);
          await host.testAndClearAccessed(all, out);
          await host.drainDirtyLog();
        }
      })().catch(() => undefined);
      return { failure: () => undefined, stop: async () => (await loop, []) };
    },
  });

  it('scanning is charged to the VM: a VM scanned every millisecond does fewer operations', async () => {
    const pages = 1 << 16;
    const run = async (policy: Policy) => {
      const writer = recordingWriter(pages, pages, 11);
      const machine = new SimMachine(
        { preset: tierPreset('optane'), dramPages: pages, nvmPages: pages, vms: [{ name: 'vm0', workload: writer.workload, pageCount: pages, vcpus: 2, dramQuotaPages: pages }] },
        policy,
      );
      return (await machine.run(20e6)).vms[0]!;
    };
    const quiet = await run(scanner(1e9));
    const scanned = await run(scanner(1e6));
    assert.equal(quiet.pagesScanned, 0);
    assert.ok(scanned.pagesScanned >= 19 * pages);
    assert.ok(scanned.trackingCostPct > 1, `tracking cost ${scanned.trackingCostPct}%`);
    assert.ok(scanned.opsPerSec < quiet.opsPerSec * 0.99, `${scanned.opsPerSec} vs ${quiet.opsPerSec} ops/s`);
    assert.ok(quiet.pmlBufferFullExits > 0, 'a write-heavy VM fills PML buffers');
    assert.ok(quiet.trackingCostPct > 0, 'and pays for the exits');
  });
});
