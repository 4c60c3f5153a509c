import assert from 'node:assert/strict';
import { PoolCore, defaultCoreConfig } from '../../plugin/pool/core.js';
import { hello, report } from './helpers.js';

describe('pool core', () => {
  const core = () => new PoolCore({ ...defaultCoreConfig(10_000), settleMs: 0, hysteresisPages: 0 }, 0);

  it('a grower gets the pages a shrinker gives up only once the shrinker reports running on less', () => {
    const c = core();
    c.join(hello('idle', { currentQuotaPages: 5000 }), 0);
    c.join(hello('busy', { currentQuotaPages: 5000 }), 0);
    // idle uses none of its DRAM (0 pages there) but has not yet applied a lower quota.
    c.report('idle', report(0, 100, 1, { dramPages: 0, quotaPages: 5000 }));
    c.report('busy', report(0, 7900, 500, { dramPages: 5000, quotaPages: 5000 }));
    const first = c.rebalance(1000);
    assert.ok(first.get('idle')! < 5000, 'idle shrinks');
    assert.equal(first.has('busy'), false, 'busy waits: idle may still fill its old quota');
    assert.ok(c.allocatedPages() <= 10_000);
    c.report('idle', report(1, 100, 1, { dramPages: 0, quotaPages: first.get('idle')! }));
    const second = c.rebalance(2000);
    assert.ok(second.get('busy')! > 5000, 'busy grows into what idle gave up');
    assert.ok(c.quotaOf('idle')! + c.quotaOf('busy')! <= 10_000);
  });

  it('a join or rejoin never leaves a quota above the VM max', () => {
    const c = core();
    assert.deepEqual(c.join(hello('a', { currentQuotaPages: 6000, maxPages: 4000 }), 0), { ok: true, quotaPages: 4000, rejoined: false, reclaimed: new Map() });
    c.disconnect('a', 10);
    assert.deepEqual(c.join(hello('a', { currentQuotaPages: 4000, maxPages: 3000 }), 20), { ok: true, quotaPages: 3000, rejoined: true, reclaimed: new Map() });
  });
});

describe('pool core: joining a full pool', () => {
  it('a newcomer gets its minimum at once, taken from the VMs with the most above theirs', () => {
    const c = new PoolCore({ ...defaultCoreConfig(10_000), settleMs: 0, hysteresisPages: 0 }, 0);
    c.join(hello('big', { currentQuotaPages: 7000, minPages: 1000 }), 0);
    c.join(hello('mid', { currentQuotaPages: 3000, minPages: 2500 }), 0);
    assert.equal(c.allocatedPages(), 10_000);
    const r = c.join(hello('new', { currentQuotaPages: 2500, minPages: 2000 }), 0);
    assert.ok(r.ok);
    assert.equal(r.quotaPages, 2000);
    assert.deepEqual([...r.reclaimed], [['big', 5000]]);
    assert.equal(c.allocatedPages(), 10_000);
    // Mins that do not fit: the newcomer gets what the others hold above theirs, nobody goes below their own.
    const s = c.join(hello('late', { currentQuotaPages: 9000, minPages: 9000 }), 0);
    assert.ok(s.ok);
    assert.equal(s.quotaPages, 4000 + 500);
    assert.deepEqual([c.quotaOf('big'), c.quotaOf('mid'), c.quotaOf('new')], [1000, 2500, 2000]);
    assert.equal(c.allocatedPages(), 10_000);
  });
});
