/**
 * The migrator's bookkeeping of what a host reports per page: the tier mirror,
 * the anti-thrash marks, the histograms and the totals. A page the host finds
 * absent (never touched by the guest) is nothing to move: it is not a failure
 * (no error in `hmmv status`), and the mirror stops asking for it every window.
 */
import assert from 'node:assert/strict';
import { MigrationOutcome, Tier, type MigrationResult } from '../../plugin/host/memory-host.js';
import { TemperatureHistograms } from '../../plugin/engine/histograms.js';
import { Migrator } from '../../plugin/engine/migrator.js';
import { PageState } from '../../plugin/engine/page-state.js';
import { bitmapGet } from '../../plugin/util/bitmap.js';
import type { Clock } from '../../plugin/util/clock.js';
import { ScriptedHost } from './scripted-host.js';

const instantClock: Clock = { now: () => 0, sleep: async () => undefined };

/** A host whose migrate() answers each page with the outcome the test gives it. */
class OutcomeHost extends ScriptedHost {
  calls: number[][] = [];
  constructor(pageCount: number, private readonly outcomeOf: (page: number) => MigrationOutcome) {
    super(pageCount);
  }
  override async migrate(pages: Uint32Array): Promise<MigrationResult> {
    this.calls.push(Array.from(pages));
    const outcome = Uint8Array.from(pages, (p) => this.outcomeOf(p));
    const count = (o: MigrationOutcome) => outcome.filter((x) => x === o).length;
    const failures = Array.from(outcome.entries()).filter(([, o]) => o === MigrationOutcome.Failed).map(([index]) => ({ index, reason: 'broken' }));
    return {
      outcome, failures, moved: count(MigrationOutcome.Moved), busy: count(MigrationOutcome.Busy), failed: failures.length,
      absent: count(MigrationOutcome.Absent), bytesCopied: count(MigrationOutcome.Moved) * 4096, recopies: 0, pauseNs: 0, maxPauseNs: 0,
    };
  }
}

describe('engine: migrator bookkeeping', () => {
  it('an absent page is placed in the mirror where it was asked to go, not counted as failed, not marked moved', async () => {
    // pages 0..7 in DRAM (the mirror's default), demote 0..5: 0,1 move, 2,3 absent (a VGA hole), 4 fails, 5 busy
    const outcomes: Record<number, MigrationOutcome> = { 0: MigrationOutcome.Moved, 1: MigrationOutcome.Moved, 2: MigrationOutcome.Absent, 3: MigrationOutcome.Absent, 4: MigrationOutcome.Failed, 5: MigrationOutcome.Busy };
    const host = new OutcomeHost(64, (p) => outcomes[p]!);
    const state = new PageState(64);
    const histograms = new TemperatureHistograms();
    histograms.recount(state);
    const migrator = new Migrator(host, state, histograms, instantClock, () => 1 << 30);
    migrator.dramPages = 64;
    await migrator.moveAll(Uint32Array.of(0, 1, 2, 3, 4, 5), Tier.NVM);

    const onNvm = [0, 1, 2, 3, 4, 5].map((p) => bitmapGet(state.nvm, p));
    assert.deepEqual(onNvm, [true, true, true, true, false, false]);
    assert.equal(migrator.dramPages, 60);
    assert.deepEqual([histograms.dram[0], histograms.nvm[0]], [60, 4], 'the histograms follow the mirror');
    const t = migrator.totals;
    assert.deepEqual([t.demoted, t.failed, t.busy, t.absent], [2, 1, 1, 2]);
    assert.deepEqual(t.lastFailures, ['page 4: broken'], 'only the real failure is reported');
    const blocked = [0, 1, 2, 3].map((p) => bitmapGet(state.blocked, p));
    assert.deepEqual(blocked, [true, true, false, false], 'only pages that moved are held by the anti-thrash rule');
  });

  it('a host that does not report absent pages (no `absent` field) leaves the total at 0', async () => {
    const host = new OutcomeHost(32, () => MigrationOutcome.Moved);
    host.migrate = async (pages) => ({ outcome: new Uint8Array(pages.length), failures: [], moved: pages.length, busy: 0, failed: 0, bytesCopied: 0, recopies: 0, pauseNs: 0, maxPauseNs: 0 });
    const state = new PageState(32);
    const histograms = new TemperatureHistograms();
    histograms.recount(state);
    const migrator = new Migrator(host, state, histograms, instantClock, () => 1 << 30);
    await migrator.moveAll(Uint32Array.of(3), Tier.NVM);
    assert.deepEqual([migrator.totals.demoted, migrator.totals.absent], [1, 0]);
  });
});
