/**
 * The short version of bench/pool-load.ts (which runs for minutes and measures
 * memory and reallocation time): one daemon process, 64 managers connected at
 * once over its socket, each reporting every window for a few seconds. Every
 * state the daemon pushes and every quota it sends is checked against the
 * pool and the VMs' bounds. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { runPoolLoad } from '../../bench/pool-load.js';

describe('pool daemon with 64 managers at once', function () {
  this.timeout(120_000);
  for (const policy of ['utility', 'weighted'] as const) {
    it(`${policy}: all connect and report; quotas stay within bounds and within the pool`, async () => {
      const r = (await runPoolLoad({ managers: 64, seconds: 3, windowMs: 250, intervalMs: 250, policy, warmupSeconds: 1 })) as {
        connectedAtEnd: number;
        violations: number;
        firstViolations: string[];
        statesChecked: number;
        quotaPushes: number;
        reportsSent: number;
        reportsReceived: number;
        messagesRejected: number;
        rebalance: { steps: number };
      };
      assert.equal(r.connectedAtEnd, 64);
      assert.equal(r.violations, 0, r.firstViolations.join('\n'));
      assert.ok(r.statesChecked > 5, `only ${r.statesChecked} pool states seen`);
      assert.ok(r.rebalance.steps >= 3, `only ${r.rebalance.steps} reallocations`);
      assert.ok(r.quotaPushes > 0, 'the drifting demand moved quotas');
      assert.equal(r.messagesRejected, 0, 'reports every window stay within the rate limit');
      assert.ok(r.reportsReceived >= r.reportsSent * 0.95, `the daemon took ${r.reportsReceived} of ${r.reportsSent} reports`);
    });
  }
});
