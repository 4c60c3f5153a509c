import assert from 'node:assert/strict';
import { ManualClock } from './manual-clock.js';
import { defaultCoreConfig } from '../../plugin/pool/core.js';
import { InProcessPool } from '../../plugin/pool/in-process.js';
import { syntheticWindow } from './synthetic-vm.js';
import { PatternHost } from './pattern-host.js';
import { hmmvPoolPolicy } from '../../plugin/sim/policies/hmmv-pool.js';

describe('pool in-process (virtual clock, no sockets)', () => {
  it('moves the quota after a hot set that grows while another shrinks, step by step, within the pool', async () => {
    const clock = new ManualClock();
    const pool = new InProcessPool({ ...defaultCoreConfig(10_000), settleMs: 0, hysteresisPages: 100, intervalMs: 500 }, clock);
    const quota = new Map<string, number>();
    const hot = new Map([['grow', 1000], ['shrink', 4000]]);
    const links = [...hot.keys()].map((domain) => {
      quota.set(domain, 5000);
      return {
        domain,
        link: pool.join({
          domain,
          pageCount: 9000,
          pageSizeBytes: 4096,
          staticQuotaPages: 5000,
          migrationPagesPerSec: 1000, // 500 pages per 500 ms step
          setDramQuotaPages: (q) => quota.set(domain, q),
        }),
      };
    });
    const history: number[][] = [];
    pool.onRebalance = (s) => {
      assert.ok(s.allocatedPages <= 10_000, `pool overcommitted: ${s.allocatedPages}`);
      history.push(s.vms.map((v) => v.quotaPages));
    };
    const ac = new AbortController();
    const running = pool.run(ac.signal);
    const windows = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        for (const { domain, link } of links) link.report(syntheticWindow(9000, hot.get(domain)!, quota.get(domain)!));
        await clock.advance(250e6);
      }
    };
    await windows(10);
    // Steady phase: both hot and warm sets fit; shrink's warm pages (6000 in all) are worth more than grow's cold ones.
    assert.deepEqual([quota.get('grow'), quota.get('shrink')], [4000, 6000]);
    // Phase change.
    hot.set('grow', 7500);
    hot.set('shrink', 1500);
    await windows(4);
    const mid = quota.get('grow')!;
    assert.ok(mid > 4000 && mid < 7500, `quota moves in bounded steps (${mid})`);
    await windows(30);
    assert.ok(quota.get('grow')! >= 7500, `grow got its hot set: ${JSON.stringify([...quota])}`);
    assert.ok(quota.get('shrink')! >= 1500, 'shrink kept its own hot set');
    const steps = history.map((h, i) => (i === 0 ? 0 : Math.abs(h[0]! - history[i - 1]![0]!)));
    assert.ok(Math.max(...steps) <= 500, `a step moved ${Math.max(...steps)} pages, more than the migrator's 500`);
    ac.abort();
    await running;
  });
});

describe('hmmv-pool policy for the simulated machine', () => {
  it('runs an engine per VM under one in-process pool and reports the quotas it moved', async () => {
    const clock = new ManualClock();
    const hosts = [new PatternHost(4000, 2500, 1500), new PatternHost(4000, 300, 1500)];
    const policy = hmmvPoolPolicy({ engine: { roundsPerWindow: 4, roundIntervalNs: 10e6, migrationBytesPerSec: 2000 * 4096 * 10 } });
    assert.equal(policy.name, 'hmmv-pool');
    const ac = new AbortController();
    const running = policy.start({
      clock,
      signal: ac.signal,
      vms: hosts.map((host, i) => ({ name: `vm${i}`, host, pageCount: 4000, dramQuotaPages: 1500 })),
    });
    for (let t = 0; t < 300 && running.failure() === undefined; t++) await clock.advance(5e6);
    const state = running.pool.state();
    assert.ok(state.allocatedPages <= 3000);
    ac.abort();
    await clock.advance(1e9);
    const reports = await running.stop();
    assert.equal(reports.length, 2);
    assert.ok(reports[0]!['quotaEndPages']! >= 2500, `vm0 (hot set 2500) quota ${reports[0]!['quotaEndPages']}`);
    assert.ok(reports[1]!['quotaMinPages']! < 1500, 'vm1 gave DRAM back');
    assert.ok(reports[0]!['windows']! > 10, 'the engines ran on the virtual clock');
    assert.ok(hosts[0]!.dramPages() >= 2500 && hosts[0]!.dramPages() + hosts[1]!.dramPages() <= 3000);
  });
});
