/**
 * The TypeScript side of the kmod backend in the guest, against the real
 * module and devdax NVDIMM: the hook's region life cycle (prepareRegion /
 * releaseRegion, with a libvirt-style domain name), the manager's backend
 * factory, every KmodMemoryHost call against a process mapping the region
 * (kmod-check hold: a stand-in for QEMU that keeps rewriting its first HOT
 * pages), the engine on it for a few windows, `hmmv host check`, and the
 * devdax capacity back after the mapper exits.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { KmodControl, KmodMemoryHost, regionNameFor } from '../../plugin/host/kmod/index.js';
import { prepareRegion, releaseRegion } from '../../plugin/host/kmod/region-lifecycle.js';
import { MigrationOutcome, Tier } from '../../plugin/host/memory-host.js';
import { openBackend } from '../../plugin/manager/backend.js';
import { registerKmodBackend } from '../../plugin/manager/kmod-backend.js';
import type { GuestInfo } from '../../plugin/manager/guest-discovery.js';
import type { TieringConfig } from '../../plugin/runtime/tiering-config.js';
import { bitmapCount, bitmapFill, bitmapGet, createBitmap } from '../../plugin/util/bitmap.js';
import { report } from './guest-report.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (first: number, n: number) => Uint32Array.from({ length: n }, (_, i) => first + i);

/** A process mapping a region and rewriting its first `hot` pages. */
class Mapper {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }

  static async start(region: string, seconds: number, hot: number): Promise<{ mapper: Mapper; pages: number }> {
    const m = new Mapper(spawn('/bin/kmod-check', ['hold', region, String(seconds), String(hot)]) as ChildProcessWithoutNullStreams);
    const ready = await m.next(30_000);
    const pages = Number(/^HOLD ready (\d+) /.exec(ready)?.[1] ?? NaN);
    if (!Number.isFinite(pages)) throw new Error(`the mapper said '${ready}'`);
    return { mapper: m, pages };
  }

  next(timeoutMs: number): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the mapper said nothing')), timeoutMs);
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(line);
      });
    });
  }

  /** Pages whose contents are not what the mapper wrote. */
  async verify(): Promise<number> {
    this.proc.kill('SIGUSR1');
    const l = await this.next(60_000);
    return Number(/^HOLD verified (\d+)$/.exec(l)?.[1] ?? NaN);
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

export async function runBackendChecks(dax: string): Promise<void> {
  registerKmodBackend();
  const domain = 'guest vm/1'; // a libvirt name a region cannot hold as is
  const region = regionNameFor(domain);
  const ramBytes = 64 << 20;
  const quotaPages = 4096;

  // --- the hook's prepare --------------------------------------------------
  let prepared;
  try {
    prepared = prepareRegion({ domain, ramBytes, dramQuotaBytes: quotaPages * 4096, slowTier: { devdax: `/dev/${dax}` } });
  } catch (err) {
    report('kmod-backend-prepare', { ok: false, error: (err as Error).message });
    return;
  }
  const again = (() => {
    try {
      prepareRegion({ domain, ramBytes, dramQuotaBytes: quotaPages * 4096, slowTier: { devdax: `/dev/${dax}` } });
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  const kmem = (() => {
    try {
      prepareRegion({ domain: 'other', ramBytes, dramQuotaBytes: 0, slowTier: { devdax: '/dev/dax9.9' } });
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  })();
  report('kmod-backend-prepare', { ok: true, region, path: prepared.path, nvm: prepared.nvm, notes: prepared.notes, nodeExists: existsSync(prepared.path), unmappedAgain: again, noSuchDax: kmem });

  const { mapper, pages } = await Mapper.start(region, 600, 256);
  try {
    // --- the manager's factory ---------------------------------------------
    const guest = (pid: number, blocks: { name: string; used: number }[]): GuestInfo =>
      ({ qemuPid: pid, qemuVersion: 'test', runState: 'running', memdevs: [], ramBlocks: blocks.map((b) => ({ ...b, pageSize: 4096, offset: 0, total: b.used })), vcpus: [{ index: 0, threadId: pid }], ramBytes, ranges: [] }) as unknown as GuestInfo;
    const config = { backend: 'kmod' } as TieringConfig;
    const wrongPid = await openBackend({ domain, config, guest: guest(1, [{ name: 'hmmv-ram', used: ramBytes }]) }).then(
      () => 'opened',
      (e: Error) => e.message,
    );
    const noBlock = await openBackend({ domain, config, guest: guest(mapper.proc.pid!, [{ name: 'pc.ram', used: ramBytes }]) }).then(
      () => 'opened',
      (e: Error) => e.message,
    );
    const viaFactory = await openBackend({ domain, config, guest: guest(mapper.proc.pid!, [{ name: 'hmmv-ram', used: ramBytes }]) });
    report('kmod-backend-factory', { ok: viaFactory.kind === 'kmod' && viaFactory.pageCount === pages, kind: viaFactory.kind, pages: viaFactory.pageCount, wrongPid, noBlock });
    await viaFactory.close();

    const host = KmodMemoryHost.open({ region, vcpuCount: 1, expectMapperPid: mapper.proc.pid! });
    try {
      await hostChecks(host, mapper, pages, quotaPages);
      await engineRun(host, mapper);
    } finally {
      await host.close();
    }
    const cli = spawnSync(process.execPath, ['dist/plugin/cli.js', 'host', 'check'], { encoding: 'utf8', cwd: '/hmmv' });
    report('kmod-host-check', { status: cli.status, stdout: cli.stdout.split('\n').filter((l) => /kmod|module|dax|source|ready/.test(l)) });
  } finally {
    await mapper.stop();
  }

  // --- QEMU gone, then the hook's release --------------------------------------
  const control = KmodControl.open();
  control.attach(region);
  const afterExit = control.info();
  const sourcesMapped = control.sources().sources;
  control.close();
  const released = releaseRegion(domain);
  const releasedAgain = releaseRegion(domain);
  const c2 = KmodControl.open();
  const left = c2.sources();
  c2.close();
  report('kmod-backend-release', {
    ok: !afterExit.mapped && afterExit.dramPages === 0 && afterExit.nvmPages === 0 && released === 'removed' && releasedAgain === 'absent' && left.sources.length === 0 && !existsSync(prepared.path),
    afterExit: { mapped: afterExit.mapped, dram: afterExit.dramPages, nvm: afterExit.nvmPages },
    sourceFreeAfterExit: sourcesMapped.map((s) => [s.freePages, s.pages]),
    released,
    releasedAgain,
    sourcesLeft: left.sources.length,
    regionsLeft: left.regions,
  });
}

async function hostChecks(host: KmodMemoryHost, mapper: Mapper, pages: number, quotaPages: number): Promise<void> {
  const all = createBitmap(pages);
  bitmapFill(all, pages);
  const tiers = createBitmap(pages);
  await host.readTierMap(tiers);
  const usage = await host.tierUsage();
  report('kmod-backend-tiers', {
    ok: bitmapCount(tiers) === pages - quotaPages && !bitmapGet(tiers, quotaPages - 1) && bitmapGet(tiers, quotaPages),
    nvmPages: bitmapCount(tiers),
    usage: usage.map((u) => ({ name: u.name, capacity: u.capacityPages, used: u.usedPages, vm: u.vmPages })),
  });

  // accessed: only the mapper's 256 hot pages are touched between two harvests
  const acc = createBitmap(pages);
  await host.testAndClearAccessed(all, acc);
  acc.fill(0);
  await sleep(500);
  const scanned = await host.testAndClearAccessed(all, acc);
  let hotSeen = 0;
  let coldSeen = 0;
  for (let p = 0; p < pages; p++) if (bitmapGet(acc, p)) p < 256 ? hotSeen++ : coldSeen++;
  report('kmod-backend-accessed', { ok: scanned === pages && hotSeen === 256 && coldSeen === 0, scanned, hotSeen, coldSeen });

  // dirty log: each hot page once per drain, nothing else
  await host.drainDirtyLog();
  await sleep(500);
  const d = await host.drainDirtyLog();
  const logged = new Set(Array.from(d.pages.subarray(0, d.count)));
  report('kmod-backend-dirty-log', {
    ok: d.count === 256 && logged.size === 256 && [...logged].every((p) => p < 256) && !d.overflowed,
    count: d.count,
    distinct: logged.size,
    overflowed: d.overflowed,
    bufferFullExits: d.bufferFullExits,
  });
  const dirty = createBitmap(pages);
  await host.testAndClearDirty(all, dirty);

  // migration: the hot pages to NVM while written, 1024 cold ones to DRAM, a bad index
  const hot = await host.migrate(range(0, 256), Tier.NVM);
  const cold = await host.migrate(range(quotaPages, 1024), Tier.DRAM);
  const bad = await host.migrate(Uint32Array.of(pages + 7), Tier.DRAM);
  const ac = new AbortController();
  ac.abort();
  const aborted = await host.migrate(range(0, 10), Tier.DRAM, ac.signal);
  await host.readTierMap(tiers);
  let hotInNvm = 0;
  for (let p = 0; p < 256; p++) if (bitmapGet(tiers, p)) hotInNvm++;
  const badPages = await mapper.verify();
  report('kmod-backend-migrate', {
    ok: hot.moved + hot.busy === 256 && hot.failed === 0 && cold.moved === 1024 && cold.busy === 0 && bad.failed === 1 && aborted.busy === 10 && aborted.failed === 0 && badPages === 0 && hotInNvm === hot.moved,
    hot: { moved: hot.moved, busy: hot.busy, recopies: hot.recopies, pauseNsPerPage: hot.moved ? hot.pauseNs / hot.moved : 0, maxPauseNs: hot.maxPauseNs },
    cold: { moved: cold.moved, busy: cold.busy, bytesCopied: cold.bytesCopied },
    badReason: bad.failures[0]?.reason,
    badOutcome: bad.outcome[0] === MigrationOutcome.Failed,
    abortedOutcome: aborted.outcome[0] === MigrationOutcome.Busy,
    hotInNvm,
    badPages,
  });
}

/** The engine on the module: hot pages start in NVM; within the quota they must come to DRAM. */
async function engineRun(host: KmodMemoryHost, mapper: Mapper): Promise<void> {
  const { startEngine, defaultEngineOptions } = await import('../../plugin/engine/run.js');
  const { wallClock } = await import('../../plugin/util/clock.js');
  const tiers = createBitmap(host.pageCount);
  // Start: the 256 hot pages in NVM (done by hostChecks, mostly), DRAM at the quota.
  await host.migrate(range(0, 256), Tier.NVM);
  await host.readTierMap(tiers);
  const dramNow = host.pageCount - bitmapCount(tiers);
  const stop = new AbortController();
  const started = Date.now();
  let converged: number | undefined;
  let windows = 0;
  let checking = false;
  const engine = startEngine(host, wallClock, {
    ...defaultEngineOptions(dramNow + 256),
    roundsPerWindow: 4,
    roundIntervalNs: 100e6,
    migrationBytesPerSec: 64 << 20,
    onWindow: () => {
      windows++;
      if (checking || converged !== undefined) return;
      checking = true;
      void host.readTierMap(tiers).then(() => {
        checking = false;
        let hotInNvm = 0;
        for (let p = 0; p < 256; p++) if (bitmapGet(tiers, p)) hotInNvm++;
        if (hotInNvm === 0) {
          converged = (Date.now() - started) / 1000;
          setTimeout(() => stop.abort(new Error('converged')), 1000);
        }
      });
    },
  }, stop.signal);
  const limit = setTimeout(() => stop.abort(new Error('time limit')), 90_000);
  const totals = await engine.done.catch((e: Error) => ({ error: e.message }));
  clearTimeout(limit);
  const badPages = await mapper.verify();
  report('kmod-backend-engine', { ok: converged !== undefined && badPages === 0, converged, windows, badPages, totals });
}
