/**
 * A host whose accessed evidence refreshes only once per interval (DAMON: one
 * aggregation interval) against the engine's geometric rounds. The host below
 * models that: a harvest sooner than `intervalNs` after the last snapshot
 * reuses it, so it reports nothing new. Without the host declaring the
 * interval, the short rounds of a window see hot pages as idle and hot pages
 * in NVM never outrank cold ones in DRAM (the regression the linux test bed
 * caught); declared, no round is shorter than the interval and the hot pages
 * end in DRAM.
 */
import assert from 'node:assert/strict';
import { defaultEngineOptions, startEngine } from '../../plugin/engine/run.js';
import type { DirtyLogDrain, GuestRamRegion, MemoryHost, MigrationResult, TierUsage } from '../../plugin/host/memory-host.js';
import { MigrationOutcome, Tier } from '../../plugin/host/memory-host.js';
import { bitmapGet, bitmapSet, type Bitmap } from '../../plugin/util/bitmap.js';
import type { Clock } from '../../plugin/util/clock.js';
import { steppingClock } from './reference.js';

const PAGES = 4096;
const HOT = 512;
const QUOTA = 1024;
const INTERVAL_NS = 100e6;

class SnapshotEvidenceHost implements MemoryHost {
  readonly kind = 'snapshot-evidence';
  readonly pageSizeBytes = 4096;
  readonly pageCount = PAGES;
  readonly vcpuCount = 1;
  readonly tier = new Uint8Array(PAGES).fill(Tier.NVM);
  readonly harvestTimes: number[] = [];
  private readonly lastClear = new Float64Array(PAGES).fill(-1);
  private snapshotAt = -Infinity;

  constructor(
    private readonly clock: Clock,
    readonly accessedIntervalNs: number | undefined,
  ) {
    // Hot pages 0..HOT-1 start in NVM, cold ones fill DRAM to the quota.
    this.tier.fill(Tier.DRAM, HOT, HOT + QUOTA);
  }

  regions(): readonly GuestRamRegion[] {
    return [{ name: 'ram', firstPage: 0, pageCount: PAGES }];
  }

  readTierMap(out: Bitmap): Promise<void> {
    out.fill(0);
    for (let i = 0; i < PAGES; i++) if (this.tier[i] === Tier.NVM) bitmapSet(out, i);
    return Promise.resolve();
  }

  testAndClearAccessed(scan: Bitmap, accessed: Bitmap): Promise<number> {
    const now = this.clock.now();
    this.harvestTimes.push(now);
    if (now - this.snapshotAt >= INTERVAL_NS) this.snapshotAt = now;
    let n = 0;
    for (let i = 0; i < PAGES; i++) {
      if (!bitmapGet(scan, i)) continue;
      n++;
      // Seen if hot and the snapshot is newer than this page's last clear.
      if (i < HOT && this.snapshotAt > this.lastClear[i]!) bitmapSet(accessed, i);
      this.lastClear[i] = now;
    }
    return Promise.resolve(n);
  }

  testAndClearDirty(scan: Bitmap): Promise<number> {
    let n = 0;
    for (let i = 0; i < PAGES; i++) if (bitmapGet(scan, i)) n++;
    return Promise.resolve(n);
  }

  drainDirtyLog(): Promise<DirtyLogDrain> {
    return Promise.resolve({ pages: new Uint32Array(0), count: 0, overflowed: false, bufferFullExits: 0 });
  }

  migrate(pages: Uint32Array, target: Tier): Promise<MigrationResult> {
    const outcome = new Uint8Array(pages.length);
    let moved = 0;
    pages.forEach((p, e) => {
      outcome[e] = this.tier[p] === target ? MigrationOutcome.AlreadyThere : MigrationOutcome.Moved;
      if (this.tier[p] !== target) moved++;
      this.tier[p] = target;
    });
    return Promise.resolve({ outcome, failures: [], moved, busy: 0, failed: 0, bytesCopied: moved * 4096, recopies: 0, pauseNs: 0, maxPauseNs: 0 });
  }

  hotInDram(): number {
    let n = 0;
    for (let i = 0; i < HOT; i++) if (this.tier[i] === Tier.DRAM) n++;
    return n;
  }

  tierUsage(): Promise<readonly TierUsage[]> {
    const dram = this.tier.reduce((n, t) => n + (t === Tier.DRAM ? 1 : 0), 0);
    return Promise.resolve([
      { tier: Tier.DRAM, name: 'dram', capacityPages: PAGES, usedPages: dram, vmPages: dram },
      { tier: Tier.NVM, name: 'nvm', capacityPages: PAGES, usedPages: PAGES - dram, vmPages: PAGES - dram },
    ]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function run(declare: boolean): Promise<SnapshotEvidenceHost> {
  const clock = steppingClock();
  const host = new SnapshotEvidenceHost(clock, declare ? INTERVAL_NS : undefined);
  const stop = new AbortController();
  let windows = 0;
  // The test bed's window: 4 rounds of 100 ms (geometric: 213, 107, 53, 27 ms undeclared).
  const engine = startEngine(host, clock, {
    ...defaultEngineOptions(QUOTA),
    roundsPerWindow: 4,
    roundIntervalNs: 100e6,
    onWindow: () => {
      if (++windows >= 30) stop.abort(new Error('enough windows'));
    },
  }, stop.signal);
  await engine.done;
  return host;
}

describe('engine on a host whose accessed evidence refreshes once per interval (DAMON)', () => {
  it('spaces no harvest closer than the declared interval, and the hot pages end in DRAM', async () => {
    const host = await run(true);
    const gaps = host.harvestTimes.slice(1).map((t, i) => t - host.harvestTimes[i]!);
    assert.ok(gaps.length > 50, `harvests: ${host.harvestTimes.length}`);
    assert.ok(gaps.every((g) => g >= INTERVAL_NS), `a gap below ${INTERVAL_NS} ns: ${Math.min(...gaps)}`);
    assert.equal(host.hotInDram(), HOT, `hot pages in DRAM: ${host.hotInDram()} of ${HOT}`);
  });

  it('undeclared, the same evidence leaves hot pages stuck in NVM (why hosts must declare it)', async () => {
    const host = await run(false);
    assert.ok(host.hotInDram() < HOT / 2, `hot pages in DRAM: ${host.hotInDram()} of ${HOT}`);
  });
});
