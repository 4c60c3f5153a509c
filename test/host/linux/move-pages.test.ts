/**
 * move_pages(2) through koffi on this host (one NUMA node is enough for the
 * query form and the error paths); moving between nodes is proven in the
 * two-node guest (testbed.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Errno, MovePagesError, movePagesRaw, statusReason } from '../../../plugin/host/linux/move-pages.js';
import { readMaps } from '../../../plugin/host/linux/maps.js';

describe('linux host: move_pages through koffi', () => {
  it('queries the node of a present page and reports an unmapped one as -EFAULT', () => {
    const heap = readMaps(process.pid).find((m) => m.perms.startsWith('rw') && m.path === '[heap]') ?? readMaps(process.pid).find((m) => m.perms.startsWith('rw'))!;
    const status = new Int32Array(2);
    const notMoved = movePagesRaw(process.pid, new BigUint64Array([heap.start, 0x1000n]), null, status);
    assert.equal(notMoved, 0);
    assert.ok(status[0]! >= 0, `a mapped page has a node, got ${status[0]}`);
    assert.equal(status[1], -Errno.EFAULT);
    assert.match(statusReason(status[1]!), /not mapped/);
    assert.match(statusReason(-Errno.EBUSY), /busy/);
    assert.match(statusReason(-Errno.EACCES), /MPOL_MF_MOVE_ALL/);
  });

  it('names a missing process and an offline target node', async () => {
    // A pid that surely does not exist: one that just exited.
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    assert.throws(
      () => movePagesRaw(pid, new BigUint64Array([0x1000n]), null, new Int32Array(1)),
      (err: Error) => err instanceof MovePagesError && err.errno === Errno.ESRCH && /no process \d+/.test(err.message),
    );
    const heap = readMaps(process.pid).find((m) => m.perms.startsWith('rw'))!;
    assert.throws(
      () => movePagesRaw(process.pid, new BigUint64Array([heap.start]), new Int32Array([63]), new Int32Array(1)),
      (err: Error) => err instanceof MovePagesError && /target NUMA node is not online|invalid arguments/.test(err.message),
    );
  });

  it('rejects arrays of the wrong length before calling the kernel', () => {
    assert.throws(() => movePagesRaw(process.pid, new BigUint64Array(2), null, new Int32Array(1)), /status array shorter than pages/);
  });
});
