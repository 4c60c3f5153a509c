import assert from 'node:assert/strict';
import { placementTable } from './placement-table.js';

describe('e2e-host placement table (docs/emulated-optane.md from out/e2e-host.json)', () => {
  const domain = (name: string, startOn: string, quotaPages: number | undefined, secondsToConverge: number | undefined) => ({
    name, startOn, quotaPages, secondsToConverge,
    hotPages: { dram: 2048, nvm: 0 }, coldPages: { dram: 512, nvm: 8192 }, ramPages: { dram: 3072, nvm: 9216 },
    pagesMoved: 8704, contentChecks: { passed: 3, failed: 0 },
  });
  const record = {
    generatedAt: '2026-12-02T00:00:00.000Z',
    host: { suiteSeconds: 700.5, bootSeconds: 7.6, hostReadySeconds: 12.4, totalSeconds: 650.6, inGuestSeconds: 636.6 },
    domains: [domain('tiny-a', 'dram', 3072, 73.2), domain('tiny-b', 'nvm', 4096, 80), { ...domain('tiny-k', 'dram', 3072, 28.2), backend: 'kmod', pauseNsPerPage: 269, maxPauseNs: 45908 }],
    baseline: { seconds: 60, domains: [domain('tiny-b', 'nvm', undefined, undefined)] },
    faults: [{ name: 'bad-metadata', passed: true }, { name: 'virsh-destroy', passed: false }],
    destroyHandover: { domain: 'tiny-b', quotaPagesBefore: 4096, quotaPagesAfter: 6144, maxPages: 6144 },
  };

  it('one row per domain under hmmv (its backend named, the kmod pause per page), then the baseline, with the split per node, quota, pages moved and convergence', () => {
    const lines = placementTable(record).split('\n');
    const rows = lines.filter((l) => /^\| (hmmv|numa_balancing)/.test(l));
    assert.equal(rows.length, 4);
    assert.equal(rows[0], '| hmmv (linux backend, pool) | tiny-a | dram | 3072 | 2048 / 0 | 512 / 8192 | 3072 / 9216 | 8704 | 73.2 | 3 / 0 | - |');
    assert.equal(rows[2], '| hmmv (kmod backend, pool) | tiny-k | dram | 3072 | 2048 / 0 | 512 / 8192 | 3072 / 9216 | 8704 | 28.2 | 3 / 0 | 269 / 45908 |');
    assert.match(rows[3]!, /^\| numa_balancing=2 \| tiny-b \| nvm \| none \|.*\| not within the run \|/);
  });

  it('says which faults failed, the hand-over on destroy, and the times', () => {
    const text = placementTable(record);
    assert.match(text, /virsh-destroy FAILED/);
    assert.match(text, /tiny-b's quota 4096 -> 6144 pages/);
    assert.match(text, /\| the suite \(test-bed build from the cache, boot, run\) \| 700\.5 \|/);
  });
});
