/** Outcomes and counts of a migrate() call from move_pages statuses, 4 KiB pages and 2 MiB units. */
import assert from 'node:assert/strict';
import { MigrationOutcome } from '../../../plugin/host/memory-host.js';
import { MigrationTally } from '../../../plugin/host/linux/migration-tally.js';
import { Errno } from '../../../plugin/host/linux/move-pages.js';

describe('linux host: move_pages outcomes', () => {
  it('sorts the query into already there, busy, absent, failed (with the reason) and to move', () => {
    const t = new MigrationTally(6);
    const toMove = t.fromQuery([0, 1, 2, 3, 4, 5], Int32Array.of(1, 0, -Errno.EBUSY, -Errno.EACCES, 0, -Errno.ENOENT), [1]);
    assert.deepEqual(toMove, [1, 4]);
    assert.deepEqual(Array.from(t.outcome), [MigrationOutcome.AlreadyThere, 0, MigrationOutcome.Busy, MigrationOutcome.Failed, 0, MigrationOutcome.Absent]);
    assert.equal(t.failures.length, 1);
    assert.equal(t.failures[0]!.index, 3);
    const r = t.result();
    assert.deepEqual([r.busy, r.failed, r.absent], [1, 1, 1], 'a page never touched (-ENOENT) is absent, not a failure');
  });

  it('a page gone between the query and the move (-ENOENT), or the shared zero page (-EFAULT), is absent too', () => {
    const t = new MigrationTally(3);
    const toMove = t.fromQuery([0, 1, 2], Int32Array.of(0, 0, -Errno.EFAULT), [1]);
    assert.deepEqual(toMove, [0, 1]);
    t.fromMove([0, 1], Int32Array.of(1, -Errno.ENOENT), 1, 100);
    const r = t.result();
    assert.deepEqual(Array.from(r.outcome), [MigrationOutcome.Moved, MigrationOutcome.Absent, MigrationOutcome.Absent]);
    assert.deepEqual([r.moved, r.failed, r.absent, r.failures.length], [1, 0, 2, 0]);
  });

  it('counts -EBUSY for a page that did move (re-query shows it on the target) as moved, the rest as busy', () => {
    const t = new MigrationTally(4);
    const busy = t.fromMove([0, 1, 2, 3], Int32Array.of(1, -Errno.EBUSY, -Errno.EAGAIN, -Errno.ENOMEM), 1, 1000);
    assert.deepEqual(busy, [1, 2]);
    t.fromRequery(busy, Int32Array.of(1, 0), [1], 1000);
    const r = t.result();
    assert.deepEqual(Array.from(r.outcome), [MigrationOutcome.Moved, MigrationOutcome.Moved, MigrationOutcome.Busy, MigrationOutcome.Failed]);
    assert.deepEqual([r.moved, r.busy, r.failed, r.bytesCopied, r.recopies], [2, 1, 1, 2 * 4096, 0]);
    assert.match(r.failures[0]!.reason, /out of memory/);
    assert.deepEqual([r.pauseNs, r.maxPauseNs], [2000, 1000], 'each moved page counts its whole call');
  });

  it('an entry naming a 2 MiB unit counts 512 pages in every count', () => {
    const units = new Set([1, 3]);
    const t = new MigrationTally(4, (e) => (units.has(e) ? 512 : 1));
    const toMove = t.fromQuery([0, 1, 2, 3], Int32Array.of(0, 0, 1, -Errno.EBUSY), [1]);
    assert.deepEqual(toMove, [0, 1]);
    const busy = t.fromMove([0, 1], Int32Array.of(1, -Errno.EBUSY), 1, 10);
    t.fromRequery(busy, Int32Array.of(1), [1], 10);
    const r = t.result();
    assert.deepEqual([r.moved, r.busy, r.failed, r.bytesCopied], [513, 512, 0, 513 * 4096]);
    assert.deepEqual(Array.from(r.outcome), [MigrationOutcome.Moved, MigrationOutcome.Moved, MigrationOutcome.AlreadyThere, MigrationOutcome.Busy]);
  });

  it('an aborted remainder is busy: it stays where it is', () => {
    const t = new MigrationTally(3);
    t.abort(1, 2);
    assert.deepEqual([t.result().busy, t.outcome[1], t.outcome[2]], [2, MigrationOutcome.Busy, MigrationOutcome.Busy]);
  });
});
