/** Which kdamond a manager takes, reclaims or refuses (pure rules of damon-slots.ts). */
import assert from 'node:assert/strict';
import { DEFAULT_SLOTS, planClaim, planRestore, stillOurs, type SlotRecord, type SlotState } from '../../../plugin/host/linux/damon-slots.js';
import { rng } from '../../engine/reference.js';

const free = (index: number): SlotState => ({ index, running: false, configured: false });
const ours = (index: number, targetPid: number, running = true): SlotState => ({ index, running, configured: true, operations: 'vaddr', targetPid });
const record = (index: number, managerPid: number, targetPid: number): SlotRecord => ({ index, managerPid, managerStart: 1000 + managerPid, targetPid });
const liveSet = (...pids: number[]) => (r: SlotRecord) => pids.includes(r.managerPid);

describe('linux host: kdamond slots', () => {
  it('makes the slot set when there is none, and the first manager takes slot 0', () => {
    assert.deepEqual(planClaim([], [], liveSet()), { reclaim: [], dropRecords: [], grow: DEFAULT_SLOTS });
    assert.deepEqual(planClaim([free(0)], [], liveSet()), { reclaim: [], dropRecords: [], grow: DEFAULT_SLOTS }, 'one unused kdamond left by someone: remade while nothing runs');
    const slots = Array.from({ length: DEFAULT_SLOTS }, (_, i) => free(i));
    assert.deepEqual(planClaim(slots, [], liveSet()), { reclaim: [], dropRecords: [], take: 0 });
  });

  it('two managers starting at once (one after the other under the lock) take different slots', () => {
    const slots = Array.from({ length: 4 }, (_, i) => free(i));
    const a = planClaim(slots, [], liveSet(), 4);
    assert.deepEqual(a, { reclaim: [], dropRecords: [], take: 0 });
    // A recorded its claim and configured slot 0 before releasing the lock.
    const b = planClaim([ours(0, 500), ...slots.slice(1)], [record(0, 10, 500)], liveSet(10), 4);
    assert.deepEqual(b, { reclaim: [], dropRecords: [], take: 1 });
    // Even before A turned its kdamond on (configured, off), B does not take slot 0.
    const c = planClaim([free(0), free(1)], [record(0, 10, 500)], liveSet(10), 2);
    assert.deepEqual(c, { reclaim: [], dropRecords: [], take: 1 });
  });

  it('reclaims the kdamond of a manager killed with SIGKILL (still running, same target), and only that', () => {
    const slots = [ours(0, 500), ours(1, 600), { index: 2, running: true, configured: true, operations: 'paddr' }, free(3)];
    const plan = planClaim(slots, [record(0, 10, 500), record(1, 11, 600)], liveSet(11), 4);
    assert.deepEqual(plan, { reclaim: [{ index: 0, running: true }], dropRecords: [0], take: 0 });
  });

  it('a dead manager whose kdamond stopped by itself (its QEMU exited) is emptied too', () => {
    assert.deepEqual(planClaim([ours(0, 500, false), free(1)], [record(0, 10, 500)], liveSet(), 2), { reclaim: [{ index: 0, running: false }], dropRecords: [0], take: 0 });
  });

  it('never touches a slot someone else took over since the record was written (another target), nor a record past the slots', () => {
    const plan = planClaim([ours(0, 777), free(1)], [record(0, 10, 500), record(5, 12, 900)], liveSet(), 2);
    assert.deepEqual(plan, { reclaim: [], dropRecords: [0, 5], take: 1 });
    assert.equal(stillOurs(ours(0, 777), record(0, 10, 500)), false);
    assert.equal(stillOurs(free(0), record(0, 10, 500)), true);
  });

  it("refuses, naming every kdamond in use and whose, when none is free; never another's", () => {
    const foreign: SlotState = { index: 0, running: true, configured: true, operations: 'paddr' };
    const p1 = planClaim([foreign], [], liveSet());
    assert.ok('refuse' in p1);
    assert.match(p1.refuse, /no free kdamond among 1 \(kdamond 0: not hmmv's \(on, paddr operations\)\); DAMON cannot add kdamonds while any runs/);
    const p2 = planClaim([{ index: 0, running: false, configured: true, operations: 'vaddr', targetPid: 42 }], [], liveSet());
    assert.ok('refuse' in p2);
    assert.match(p2.refuse, /kdamond 0: not hmmv's \(off, vaddr operations, target 42\)\); hmmv remakes the kdamond set only when every kdamond is unused/);
    const full = planClaim([ours(0, 500), ours(1, 600)], [record(0, 10, 500), record(1, 11, 600)], liveSet(10, 11), 2);
    assert.ok('refuse' in full);
    assert.match(full.refuse, /kdamond 0: hmmv manager 10 \(target 500\); kdamond 1: hmmv manager 11 \(target 600\)/);
    assert.deepEqual(planClaim([foreign, free(1)], [], liveSet()), { reclaim: [], dropRecords: [], take: 1 }, 'a free slot beside a foreign one');
  });

  it('on random states: reclaims only dead managers\' slots that are still theirs, takes only a free slot, grows only when nothing is in use', () => {
    const random = rng(17);
    for (let trial = 0; trial < 2000; trial++) {
      const n = Math.floor(random() * 6);
      const slots: SlotState[] = [];
      const records: SlotRecord[] = [];
      const alive = new Set<number>();
      for (let i = 0; i < n; i++) {
        const kind = Math.floor(random() * 5);
        if (kind === 0) slots.push(free(i));
        else if (kind === 1) slots.push({ index: i, running: random() < 0.5, configured: true, operations: 'paddr' });
        else {
          const target = 100 + Math.floor(random() * 3);
          slots.push(ours(i, target, random() < 0.7));
          const pid = 10 + i;
          records.push(record(i, pid, random() < 0.8 ? target : 999));
          if (random() < 0.5) alive.add(pid);
        }
      }
      if (random() < 0.2) records.push(record(n + 1, 77, 100));
      const plan = planClaim(slots, records, (r) => alive.has(r.managerPid), 4);
      const rec = new Map(records.map((r) => [r.index, r]));
      for (const r of plan.reclaim) {
        const owner = rec.get(r.index)!;
        assert.ok(owner && !alive.has(owner.managerPid) && stillOurs(slots[r.index]!, owner), `trial ${trial}: reclaimed ${r.index}`);
      }
      const reclaimed = new Set(plan.reclaim.map((r) => r.index));
      const usable = (s: SlotState) => {
        const r = rec.get(s.index);
        const liveOwner = r !== undefined && alive.has(r.managerPid) && stillOurs(s, r);
        if (liveOwner) return false;
        return reclaimed.has(s.index) || (!s.running && !s.configured) || (r !== undefined && !alive.has(r.managerPid) && stillOurs(s, r));
      };
      if ('take' in plan) assert.ok(usable(slots[plan.take]!), `trial ${trial}: took slot ${plan.take}`);
      if ('grow' in plan) assert.ok(slots.every(usable) && slots.length < 4, `trial ${trial}: grew`);
      if ('refuse' in plan) assert.ok(!slots.some(usable) || (slots.length === 0), `trial ${trial}: refused with a usable slot`);
    }
  });

  it('the last manager out puts nr_kdamonds back as hmmv found it, only when nothing uses any slot', () => {
    assert.equal(planRestore([free(0), free(1)], 0, 0), 0);
    assert.equal(planRestore([free(0), free(1)], 0, 1), 1);
    assert.equal(planRestore([free(0), ours(1, 5)], 0, 0), undefined);
    assert.equal(planRestore([free(0), free(1)], 1, 0), undefined);
    assert.equal(planRestore([free(0)], 0, undefined), undefined, 'hmmv did not make the set: leave it');
  });
});
