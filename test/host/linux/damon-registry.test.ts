/**
 * The kdamond registry across real processes: two stand-in managers claiming
 * at once, one killed with SIGKILL and reclaimed by the next, over a plain
 * directory tree laid out like DAMON's sysfs (the kernel's own reactions,
 * kdamonds starting and stopping, are the guest's to prove: testbed.test.ts).
 * What this shows on this machine: the lock, the records, liveness by pid and
 * start time, and that nothing hmmv did not claim is written.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DAMON_ADMIN, readRecords, readSlots } from '../../../plugin/host/linux/damon-registry.js';
import { KernelFiles } from '../../../plugin/host/linux/sysfs.js';
import { writeTree } from './record-tree.js';

const child = fileURLToPath(new URL('./registry-child.js', import.meta.url));

function startChild(root: string, runDir: string, target: number): { proc: ChildProcessWithoutNullStreams; line: (prefix: string) => Promise<string> } {
  const proc = spawn(process.execPath, [child, root, runDir, String(target)]);
  const lines: string[] = [];
  const waiters: [string, (l: string) => void][] = [];
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  createInterface({ input: proc.stdout }).on('line', (l) => {
    const w = waiters.findIndex(([p]) => l.startsWith(p));
    if (w >= 0) waiters.splice(w, 1)[0]![1](l);
    else lines.push(l);
  });
  return {
    proc,
    line: (prefix) => {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push([prefix, resolve]);
        proc.once('exit', (code) => reject(new Error(`child exited (${code}) before "${prefix}": ${stderr}`)));
      });
    },
  };
}

describe('linux host: kdamond registry across processes', function () {
  let root = '';
  const tree: Record<string, string> = { [`${DAMON_ADMIN}/kdamonds/nr_kdamonds`]: '4\n' };
  for (let i = 0; i < 4; i++) {
    const k = `${DAMON_ADMIN}/kdamonds/${i}`;
    Object.assign(tree, { [`${k}/state`]: 'off\n', [`${k}/contexts/nr_contexts`]: '0\n', [`${k}/contexts/0/avail_operations`]: 'vaddr\npaddr\n', [`${k}/contexts/0/targets/nr_targets`]: '0\n', [`${k}/contexts/0/targets/0/pid_target`]: '0\n' });
  }
  // kdamond 2 is someone else's, running.
  Object.assign(tree, { [`${DAMON_ADMIN}/kdamonds/2/state`]: 'on\n', [`${DAMON_ADMIN}/kdamonds/2/contexts/nr_contexts`]: '1\n', [`${DAMON_ADMIN}/kdamonds/2/contexts/0/operations`]: 'paddr\n' });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hmmv-registry-'));
    writeTree(root, tree);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('two managers starting at once take different free kdamonds; one killed with SIGKILL is reclaimed by the next; nobody else is touched', async () => {
    const runDir = join(root, 'run');
    const files = new KernelFiles(root);
    const a = startChild(root, runDir, 1001);
    const b = startChild(root, runDir, 1002);
    let c: ReturnType<typeof startChild> | undefined;
    try {
      const [ia, ib] = (await Promise.all([a.line('CLAIMED'), b.line('CLAIMED')])).map((l) => Number(l.split(' ')[1]));
      assert.notEqual(ia, ib);
      assert.deepEqual([ia, ib].sort(), [0, 1], 'the two free ones, never kdamond 2');
      const slots = readSlots(files);
      assert.deepEqual(slots.map((s) => [s.index, s.running, s.targetPid]), [[0, true, ia === 0 ? 1001 : 1002], [1, true, ia === 1 ? 1001 : 1002], [2, true, undefined], [3, false, undefined]]);
      assert.deepEqual(readRecords(runDir).map((r) => [r.index, r.managerPid, r.targetPid]).sort(), [[ia, a.proc.pid, 1001], [ib, b.proc.pid, 1002]].sort());

      a.proc.kill('SIGKILL');
      await new Promise((r) => a.proc.once('exit', r));
      assert.equal(readSlots(files)[ia]!.running, true, 'a SIGKILLed manager leaves its kdamond on');
      c = startChild(root, runDir, 1001);
      const claimedC = await c.line('CLAIMED');
      const ic = Number(claimedC.split(' ')[1]);
      assert.equal(ic, ia, "the dead manager's kdamond is reclaimed and taken");
      assert.match(claimedC, new RegExp(`reclaimed kdamond ${ia} \\(running, target 1001\\) of manager ${a.proc.pid}, which is gone`));
      const after = readSlots(files);
      assert.deepEqual([after[ib]!.running, after[ib]!.targetPid], [true, 1002], "the live manager's kdamond is untouched");
      assert.equal(files.readText(`${DAMON_ADMIN}/kdamonds/2/contexts/0/operations`), 'paddr');
      assert.deepEqual(readRecords(runDir).map((r) => r.managerPid).sort(), [b.proc.pid, c.proc.pid].sort());

      for (const m of [b, c]) m.proc.kill('SIGTERM');
      await Promise.all([b.line('RELEASED'), c.line('RELEASED')]);
      const end = readSlots(files);
      assert.deepEqual(end.map((s) => [s.running, s.configured]), [[false, false], [false, false], [true, true], [false, false]], 'both given back, the foreign one as it was');
      assert.deepEqual(readRecords(runDir), []);
    } finally {
      for (const m of [a, b, c]) if (m && m.proc.exitCode === null) m.proc.kill('SIGKILL');
    }
  });
});
