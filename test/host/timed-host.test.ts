import assert from 'node:assert/strict';
import { Tier, type MemoryHost } from '../../plugin/host/memory-host.js';
import { timedHost } from '../../plugin/host/timed-host.js';
import { createBitmap } from '../../plugin/util/bitmap.js';

/** A host whose calls take the (virtual) time the test says: `clock.t` advances inside each call. */
function scriptedHost(clock: { t: number }, costs: Record<string, number>, fail = new Set<string>()) {
  const call = async <T>(name: string, value: T): Promise<T> => {
    clock.t += costs[name] ?? 0;
    await Promise.resolve();
    if (fail.has(name)) throw new Error(`${name} failed`);
    return value;
  };
  const host = {
    kind: 'scripted',
    pageCount: 64,
    pageSizeBytes: 4096,
    regions: () => [{ name: 'ram', firstPage: 0, pageCount: 64 }],
    readTierMap: () => call('readTierMap', undefined),
    testAndClearAccessed: () => call('testAndClearAccessed', 7),
    testAndClearDirty: () => call('testAndClearDirty', 3),
    drainDirtyLog: () => call('drainDirtyLog', { pages: new Uint32Array(0), overflowed: false }),
    migrate: () => call('migrate', { outcomes: new Uint8Array(0) }),
    tierUsage: () => call('tierUsage', []),
    close: () => Promise.resolve(),
  } as unknown as MemoryHost;
  return host;
}

describe('timedHost', () => {
  it('passes results and properties through and tallies calls, total and longest time per method', async () => {
    const clock = { t: 0 };
    const { host, tallies } = timedHost(scriptedHost(clock, { testAndClearAccessed: 5, migrate: 40 }), () => clock.t);
    assert.equal(host.pageCount, 64);
    assert.equal(host.regions()[0]!.name, 'ram');
    const bm = createBitmap(64);
    assert.equal(await host.testAndClearAccessed(bm, bm), 7);
    assert.equal(await host.testAndClearAccessed(bm, bm), 7);
    assert.equal(await host.testAndClearDirty(bm, bm), 3);
    await host.migrate(new Uint32Array([1]), Tier.NVM);
    const t = tallies();
    assert.deepEqual(t.testAndClearAccessed, { calls: 2, totalMs: 10, maxMs: 5 });
    assert.deepEqual(t.testAndClearDirty, { calls: 1, totalMs: 0, maxMs: 0 });
    assert.deepEqual(t.migrate, { calls: 1, totalMs: 40, maxMs: 40 });
    assert.equal(t.readTierMap, undefined, 'a method never called has no tally');
    assert.equal((t as Record<string, unknown>)['close'], undefined, 'close is not timed');
  });

  it('times a failed call and rethrows its error', async () => {
    const clock = { t: 0 };
    const { host, tallies } = timedHost(scriptedHost(clock, { readTierMap: 12 }, new Set(['readTierMap'])), () => clock.t);
    await assert.rejects(host.readTierMap(createBitmap(64)), /readTierMap failed/);
    assert.deepEqual(tallies().readTierMap, { calls: 1, totalMs: 12, maxMs: 12 });
  });

  it('leaves an optional method the host lacks absent', () => {
    const { host } = timedHost(scriptedHost({ t: 0 }, {}));
    assert.equal(host.hugePageUnits, undefined);
  });

  it('gives copies: a later call does not change a tally already read', async () => {
    const clock = { t: 0 };
    const { host, tallies } = timedHost(scriptedHost(clock, { tierUsage: 2 }), () => clock.t);
    await host.tierUsage();
    const before = tallies();
    await host.tierUsage();
    assert.equal(before.tierUsage!.calls, 1);
    assert.equal(tallies().tierUsage!.calls, 2);
  });
});
