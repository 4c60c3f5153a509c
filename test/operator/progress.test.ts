/**
 * `hmmv sim` and `hmmv scenario` progress: a live bar under a real
 * pseudo-terminal (util-linux `script` gives the command a pty), one line per
 * finished run through pipes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRunProgress } from '../../plugin/util/progress.js';

const CLI = fileURLToPath(new URL('../../plugin/cli.js', import.meta.url));
const ESC = '\u001b';

describe('run progress of hmmv sim and hmmv scenario', function () {
  this.timeout(180_000);
  let out: string;
  before(() => (out = mkdtempSync(path.join(os.tmpdir(), 'hmmv-progress-'))));
  after(() => rmSync(out, { recursive: true, force: true }));
  // Long enough in wall time for several frames (the bar redraws at most 10 times a second): with
  // 0.3 s simulated the faster simulator finished in under half a second and drew 4 frames on an idle machine.
  const sim = ['sim', '--vms', '2', '--vm-size', '16', '--duration', '1', '--policies', 'unmanaged,hmmv'];

  it('draws a live bar on a terminal: what runs, percent, elapsed and remaining time', () => {
    if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) throw new Error('script (util-linux) not found: apt-get install util-linux');
    const cmd = [process.execPath, CLI, ...sim, '--out', path.join(out, 'tty')].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 150_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const frames = r.stdout.split(`${ESC}[1G`).slice(1);
    assert.ok(frames.length >= 5, `the bar is redrawn in place (${frames.length} frames)`);
    const frame = /^\[hmmv sim\] [█░]{24} (\d+)% \| run (\d)\/2 (unmanaged|hmmv) \| (\d+)s elapsed, (\d+)s left/;
    const parsed = frames.map((f) => frame.exec(f));
    assert.ok(parsed.every(Boolean), `every frame has the fields:\n${frames.filter((_, i) => !parsed[i]).join('\n')}`);
    const pct = parsed.map((m) => Number(m![1]));
    assert.deepEqual([...pct].sort((a, b) => a - b), pct, 'percent only grows');
    assert.equal(pct.at(-1), 100);
    assert.deepEqual([...new Set(parsed.map((m) => m![3]))], ['unmanaged', 'hmmv'], 'names the run in progress');
    assert.match(r.stdout, /HMM-V beats unmanaged/, 'the table follows the bar');
  });

  it('writes one plain line per finished run when output is not a terminal', () => {
    const r = spawnSync(process.execPath, [CLI, ...sim, '--out', path.join(out, 'pipe')], { encoding: 'utf8', timeout: 150_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stderr.includes(ESC) && !r.stderr.includes('\r'), 'no terminal control codes');
    const lines = r.stderr.trim().split('\n').filter((l) => l.includes(' run '));
    assert.equal(lines.length, 2, r.stderr);
    lines.forEach((l, i) => assert.match(l, new RegExp(`^\\[hmmv sim\\] run ${i + 1}/2 ${['unmanaged', 'hmmv'][i]} done in \\d+\\.\\d s \\(\\d+\\.\\d s elapsed\\)$`)));

    const s = spawnSync(process.execPath, [CLI, 'scenario', 'four-vm', '--duration', '0.1', '--vm-size', '8', '--policies', 'unmanaged', '--fresh', '--out', path.join(out, 'scn')], {
      encoding: 'utf8',
      timeout: 150_000,
    });
    assert.equal(s.status, 0, s.stderr);
    assert.deepEqual(
      s.stderr.trim().split('\n').map((l) => l.replace(/done in .*/, 'done')),
      ['[hmmv scenario four-vm] run 1/2 co-run all-dram done', '[hmmv scenario four-vm] run 2/2 co-run unmanaged done'],
    );
  });

  it('says where a run stopped when it fails, and nothing when quiet', () => {
    let text = '';
    const stream = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
    let t = 0;
    const p = createRunProgress({ title: 't', stream, live: false, nowMs: () => t });
    p.update('a', 1, 2, 0);
    t = 1500;
    p.update('a', 1, 2, 1);
    p.update('b', 2, 2, 0.4);
    t = 2000;
    p.stop();
    assert.equal(text, '[t] run 1/2 a done in 1.5 s (1.5 s elapsed)\n[t] run 2/2 b stopped at 40% in 0.5 s (2.0 s elapsed)\n');
    const q = createRunProgress({ title: 't', stream, quiet: true });
    q.update('a', 1, 1, 1);
    q.stop();
    assert.equal(text.split('\n').length, 3);
  });
});
