import assert from 'node:assert/strict';
import { join } from 'node:path';
import { defaultEngineOptions } from '../../plugin/engine/run.js';
import { startEngineSession } from '../../plugin/session/engine-session.js';
import { wallClock } from '../../plugin/util/clock.js';
import { startDaemon, tempDir, until } from '../pool/helpers.js';
import { PatternHost } from '../pool/pattern-host.js';

describe('engine session joined to the pool daemon', () => {
  it('reports windows to the daemon and applies its quota through the planner', async () => {
    const tmp = tempDir();
    const daemon = await startDaemon(join(tmp.dir, 'pool.sock'), { poolPages: 3000, hysteresisPages: 0 });
    const ac = new AbortController();
    const hosts = { big: new PatternHost(4000, 2500, 1500), small: new PatternHost(4000, 300, 1500) };
    const links = Object.entries(hosts).map(([domain, host]) =>
      startEngineSession({
        name: domain,
        host,
        clock: wallClock,
        engine: { ...defaultEngineOptions(1500), roundsPerWindow: 4, roundIntervalNs: 5e6, migrationBytesPerSec: 4000 * 4096 * 20 },
        pool: { kind: 'daemon', endpoint: daemon.address },
        signal: ac.signal,
      }),
    );
    try {
      await until(() => daemon.core.state(Date.now()).vms.filter((v) => v.reports >= 3).length === 2, 'windows reported by both engines');
      const before = daemon.core.state(Date.now());
      const big = before.vms.find((v) => v.domain === 'big')!;
      assert.ok(big.hotSetPages > 0 && big.histogram.length === 256, `report carries the hot set and histogram: ${JSON.stringify({ ...big, histogram: big.histogram.length })}`);
      assert.ok(big.accessesPerSec > 0);
      // Let the pool move DRAM from the VM that does not need it to the one that does.
      for (let i = 0; i < 40 && links[0]!.quota().pages < 2500; i++) {
        daemon.tick();
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(links[0]!.quota().pages >= 2500, `big's quota ${links[0]!.quota().pages}`);
      assert.ok(links[1]!.quota().pages <= 500 && links[1]!.quota().pages >= 300, `small's quota ${links[1]!.quota().pages}`);
      await until(() => hosts.small.dramPages() <= links[1]!.quota().pages, `small to demote down to its quota (has ${hosts.small.dramPages()})`);
      await until(() => hosts.big.dramPages() >= 2500, `big to promote its hot set (has ${hosts.big.dramPages()})`);
      assert.ok(hosts.small.dramPages() + hosts.big.dramPages() <= 3000, 'host DRAM within the pool once settled');
    } finally {
      ac.abort();
      for (const l of links) await l.close();
      await daemon.close();
      tmp.cleanup();
    }
  });
});
