import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { MemoryHost } from '../../plugin/host/memory-host.js';
import { OutgoingMigrationWatch, gatedHost } from '../../plugin/manager/live-migration.js';

/** A host whose migrate() records calls; the rest of MemoryHost is not used here. */
function recordingHost(): { host: MemoryHost; calls: number[] } {
  const calls: number[] = [];
  const host = {
    kind: 'fake',
    pageCount: 8,
    migrate: async (pages: Uint32Array) => {
      calls.push(pages.length);
      return { moved: pages.length };
    },
  } as unknown as MemoryHost;
  return { host, calls };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('page migrations during an outgoing live migration', () => {
  it('holds batches from setup until failed/cancelled, and for good after completed', async () => {
    const qmp = new EventEmitter();
    const seen: string[] = [];
    const watch = new OutgoingMigrationWatch((status, state) => seen.push(`${status}:${state}`)).attach(qmp);
    const stop = new AbortController();
    const { host, calls } = recordingHost();
    const gated = gatedHost(host, watch, stop.signal);
    assert.equal(gated.pageCount, 8, 'other members pass through');

    await gated.migrate(new Uint32Array(2), 0 as never);
    assert.deepEqual(calls, [2]);
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'setup' } });
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'active' } });
    const held = gated.migrate(new Uint32Array(3), 0 as never);
    await tick();
    assert.deepEqual(calls, [2], 'held while QEMU migrates');
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'failed' } });
    await held;
    assert.deepEqual(calls, [2, 3], 'resumed after the failure');

    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'active' } });
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'completed' } });
    assert.equal(watch.outgoing().state, 'completed');
    const never = gated.migrate(new Uint32Array(4), 0 as never);
    await tick();
    assert.deepEqual(calls, [2, 3]);
    stop.abort(new Error('manager stopping'));
    await assert.rejects(never, /manager stopping/);
    assert.deepEqual(calls, [2, 3], 'nothing moved after the guest left');
    assert.deepEqual(seen, ['setup:in-progress', 'active:in-progress', 'failed:failed', 'active:in-progress', 'completed:completed']);
  });

  it('on the destination: the incoming migration\'s events never shut the gate, even a completed that comes after the guest runs', async () => {
    const qmp = new EventEmitter();
    const seen: string[] = [];
    const watch = new OutgoingMigrationWatch((status, state) => seen.push(`${status}:${state}`)).attach(qmp);
    const { host, calls } = recordingHost();
    const gated = gatedHost(host, watch, new AbortController().signal);
    // An event before the manager knew the guest was incoming (it connected first, then read the run state).
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'active' } });
    watch.receiving(true);
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'active' } });
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'completed' } });
    watch.receiving(false);
    assert.equal(watch.closed, false);
    assert.equal(watch.outgoing().state, 'none');
    // A completed that QEMU sends after the guest runs here: not an outgoing migration (none was seen in progress).
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'completed' } });
    assert.equal(watch.closed, false);
    await gated.migrate(new Uint32Array(5), 0 as never);
    assert.deepEqual(calls, [5], 'the arrived guest\'s pages move');
    // Later the guest leaves again: an outgoing migration shuts the gate as on any source.
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'setup' } });
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: { status: 'completed' } });
    assert.equal(watch.outgoing().state, 'completed');
    assert.equal(watch.closed, true);
    assert.deepEqual(seen, ['active:in-progress', 'setup:in-progress', 'completed:completed']);
  });

  it('ignores MIGRATION events without a status', () => {
    const qmp = new EventEmitter();
    const watch = new OutgoingMigrationWatch().attach(qmp);
    qmp.emit('MIGRATION', { event: 'MIGRATION', data: {} });
    qmp.emit('MIGRATION', null);
    assert.equal(watch.closed, false);
  });
});
