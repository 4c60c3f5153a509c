import assert from 'node:assert/strict';
import { defaultEngineOptions } from '../../plugin/engine/run.js';
import { defaultCoreConfig } from '../../plugin/pool/core.js';
import { InProcessPool } from '../../plugin/pool/in-process.js';
import { startEngineSession } from '../../plugin/session/engine-session.js';
import { clampPoolQuota, quotaBounds } from '../../plugin/session/quota.js';
import { VirtualClock } from '../../plugin/sim/machine/virtual-clock.js';
import { PatternHost } from '../pool/pattern-host.js';

/** Moves the virtual clock forward in small steps, letting woken code run in between. */
async function runFor(clock: VirtualClock, ns: number): Promise<void> {
  const end = clock.now() + ns;
  while (clock.now() < end) {
    await clock.settle();
    await clock.advanceTo(Math.min(end, clock.now() + 5e6));
  }
}

const engine = (quota: number) => ({ ...defaultEngineOptions(quota), roundsPerWindow: 4, roundIntervalNs: 10e6 });

describe('engine session', () => {
  it('without a pool runs on the static quota and flattens its totals to numbers', async () => {
    const clock = new VirtualClock();
    const ac = new AbortController();
    const s = startEngineSession({ name: 'vm', host: new PatternHost(2000, 300, 1000), clock, engine: engine(1000), signal: ac.signal });
    await runFor(clock, 1e9);
    assert.deepEqual(s.quota(), { pages: 1000, source: 'static' });
    assert.equal(s.poolConnected(), undefined);
    ac.abort();
    await clock.settle();
    assert.ok((await s.done)!.windows >= 20);
    const t = s.totals();
    assert.ok(Object.values(t).every((v) => typeof v === 'number'), JSON.stringify(t));
    assert.equal(t['lastFailures'], undefined);
    assert.equal(s.failure(), undefined);
  });

  it('captures an engine failure, names the VM, and still resolves done', async () => {
    const clock = new VirtualClock();
    const host = new PatternHost(2000, 300, 1000);
    host.testAndClearAccessed = async () => {
      throw new Error('harvest broke');
    };
    const seen: Error[] = [];
    const s = startEngineSession({ name: 'vm7', host, clock, engine: engine(1000), signal: new AbortController().signal, onFailure: (e) => seen.push(e) });
    await runFor(clock, 1e8);
    assert.equal(await s.done, undefined);
    assert.match(s.failure()!.message, /^hmmv engine of VM vm7 failed: harvest broke$/);
    assert.equal(seen.length, 1);
  });

  it('in an in-process pool applies the pool quota within the VM bounds and tracks it', async () => {
    const clock = new VirtualClock();
    const pool = new InProcessPool({ ...defaultCoreConfig(3000), settleMs: 0, hysteresisPages: 1, intervalMs: 80 }, clock);
    const ac = new AbortController();
    const hot = startEngineSession({ name: 'hot', host: new PatternHost(4000, 2800, 1500), clock, engine: engine(1500), bounds: { maxPages: 2000 }, pool: { kind: 'in-process', pool }, signal: ac.signal });
    const cold = startEngineSession({ name: 'cold', host: new PatternHost(4000, 100, 1500), clock, engine: engine(1500), bounds: { minPages: 700 }, pool: { kind: 'in-process', pool }, signal: ac.signal });
    const running = pool.run(ac.signal);
    await runFor(clock, 5e9);
    assert.equal(hot.quota().pages, 2000, 'the hot VM grows to its max, no further');
    assert.ok(cold.quota().pages >= 700 && cold.quota().pages <= 1000, `cold ${cold.quota().pages}`);
    assert.equal(hot.quota().source, 'pool');
    assert.deepEqual(hot.quotaTrack().fields(), { quotaStartPages: 1500, quotaEndPages: 2000, quotaMinPages: 1500, quotaMaxPages: 2000 });
    ac.abort();
    await clock.settle();
    await Promise.all([hot.done, cold.done, running]);
    await hot.close();
    assert.deepEqual(pool.core.domains, ['cold'], 'close() leaves the pool');
  });

  it('clamps a pushed quota to the bounds and says so; refuses a quota that is not a page count', () => {
    const b = quotaBounds(1000, { minPages: 100, maxPages: 600 });
    assert.deepEqual(clampPoolQuota(300, b), { pages: 300, source: 'pool' });
    assert.deepEqual(clampPoolQuota(900, b), { pages: 600, source: 'clamped', requestedPages: 900 });
    assert.deepEqual(clampPoolQuota(5, b), { pages: 100, source: 'clamped', requestedPages: 5 });
    assert.deepEqual(quotaBounds(500, { maxPages: 9000, minPages: 9000 }), { minPages: 500, maxPages: 500, weight: 1 });
    for (const bad of [-1, 1.5, NaN, Infinity]) assert.throws(() => clampPoolQuota(bad, b), /not a whole number of pages/);
  });
});
