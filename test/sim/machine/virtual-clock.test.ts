import assert from 'node:assert/strict';
import { VirtualClock } from '../../../plugin/sim/machine/virtual-clock.js';

describe('sim/machine/virtual-clock', () => {
  it('fires timers in time order, ties in the order they were set, and lets each waiter run before the next', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const sleeper = async (name: string, ns: number, then?: number): Promise<void> => {
      await clock.sleep(ns);
      log.push(`${name}@${clock.now()}`);
      if (then !== undefined) {
        await clock.sleep(then);
        log.push(`${name}+@${clock.now()}`);
      }
    };
    void sleeper('c', 30);
    void sleeper('a', 10, 5);
    void sleeper('b', 10);
    void sleeper('late', 100);
    await clock.advanceTo(50);
    assert.deepEqual(log, ['a@10', 'b@10', 'a+@15', 'c@30']);
    assert.equal(clock.now(), 50);
    assert.equal(clock.nextTimerAt(), 100);
    await clock.advanceTo(100);
    assert.deepEqual(log.at(-1), 'late@100');
  });

  it('rejects a sleep when its signal aborts and forgets the timer', async () => {
    const clock = new VirtualClock();
    const ctrl = new AbortController();
    const sleeping = clock.sleep(1000, ctrl.signal);
    ctrl.abort(new Error('stop'));
    await assert.rejects(sleeping, /stop/);
    assert.equal(clock.nextTimerAt(), Infinity);
    await assert.rejects(clock.advanceTo(-1), /cannot go back/);
  });
});
