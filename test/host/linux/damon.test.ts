/**
 * DAMON on this machine: the monitor refuses with a clear error when vaddr is
 * not built in or DAMON is busy (this development machine runs a paddr kdamond
 * and lacks CONFIG_DAMON_VADDR). Monitoring itself is proven in the 6.12 guest.
 */
import assert from 'node:assert/strict';
import { release } from 'node:os';
import { DamonVaddrMonitor, runningKdamonds } from '../../../plugin/host/linux/damon.js';
import { readKernelConfig } from '../../../plugin/host/linux/sysfs.js';

describe('linux host: DAMON monitor set-up on this machine', () => {
  it('starts only where vaddr is built in and no other kdamond runs, and otherwise says which', () => {
    const vaddr = readKernelConfig(release())?.get('CONFIG_DAMON_VADDR') === 'y';
    const busy = runningKdamonds();
    let monitor: DamonVaddrMonitor | undefined;
    try {
      monitor = DamonVaddrMonitor.start(process.pid);
    } catch (err) {
      const message = (err as Error).message;
      if (busy.length > 0) assert.match(message, /DAMON is in use: kdamond \d+ is running/);
      else assert.match(message, /CONFIG_DAMON_VADDR|CONFIG_DAMON_SYSFS/);
      return;
    } finally {
      monitor?.stop();
    }
    assert.ok(vaddr && busy.length === 0, 'started although vaddr is missing or DAMON is busy');
  });
});
