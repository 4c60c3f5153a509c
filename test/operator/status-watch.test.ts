/**
 * `hmmv status` and `hmmv status --watch` with a real manager: `hmmv manage`
 * on a real QEMU (TCG) with the sim backend, its status file in /run/hmmv.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidfilePath, statusPath } from '../../plugin/runtime/paths.js';
import { processStartTime, writePidfile } from '../../plugin/runtime/pidfile.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';
import { CLI, readStatus, startManager, waitFor } from '../manager/manager-process.js';

const ESC = '\u001b';

describe('hmmv status: per-domain figures and --watch (real manager on a real QEMU)', function () {
  this.timeout(180_000);
  const domain = `hmmv-t-watch-${process.pid}`;
  let dir: string;
  let qemu: QemuInstance | undefined;
  let manager: ChildProcess | undefined;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-watch-'));
    qemu = await startQemu({ paused: false });
    manager = startManager(dir, domain, qemu.qmpSocketPath, { dram: 'quota="32MiB"', extra: '<hmmv:tracking window-ms="200" rounds="4"/>' }).child;
    // As the hook's launch does: the pidfile tells `hmmv status` the manager is alive.
    await waitFor('the manager process', () => processStartTime(manager!.pid!) !== undefined);
    writePidfile(pidfilePath(domain), { pid: manager.pid!, startTime: processStartTime(manager.pid!)!, domain });
    await waitFor('the manager to run windows', () => {
      const s = readStatus(domain);
      return s?.state === 'running' && (s.tiering?.windows ?? 0) >= 3 && s.tiering?.window ? s : undefined;
    }, 60_000);
  });
  after(async () => {
    manager?.kill('SIGTERM');
    await qemu?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(statusPath(domain), { force: true });
    rmSync(pidfilePath(domain), { force: true });
  });

  const hmmv = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

  it('shows quota and source, DRAM/NVM, hot set, promotions and demotions per second, slowdown, windows', () => {
    const json = JSON.parse(hmmv(['status', '--json']).stdout) as Record<string, unknown>[];
    const row = json.find((r) => r['domain'] === domain)!;
    assert.ok(row, 'the domain is listed');
    assert.deepEqual((row['quota'] as { source: string; bytes: number }).source, 'static', 'no pool daemon: the static quota');
    assert.equal((row['quota'] as { bytes: number }).bytes, 32 * 1024 ** 2);
    for (const k of ['promotionsPerSec', 'demotionsPerSec', 'slowdown', 'windows']) assert.equal(typeof row[k], 'number', `${k} in ${JSON.stringify(row)}`);
    assert.ok((row['slowdown'] as number) >= 1);
    assert.ok((row['windows'] as number) >= 3);
    assert.ok((row['dram'] as { bytes: number }).bytes <= 32 * 1024 ** 2, 'DRAM in use within the quota');

    const table = hmmv(['status']).stdout;
    const [header] = table.split('\n');
    for (const h of ['QUOTA', 'FROM', 'DRAM', 'NVM', 'HOT SET', 'MIGR/S', 'PROMO/S', 'DEMO/S', 'SLOWDOWN', 'WINDOWS']) assert.ok(header!.includes(h), `${h} in ${header}`);
    assert.match(table, new RegExp(`^${domain} +running .* static .* \\d+\\.\\d\\dx +\\d+$`, 'm'));
  });

  it('--watch redraws in place on a terminal, the figures moving on', () => {
    if (spawnSync('sh', ['-c', 'command -v script']).status !== 0) throw new Error('script (util-linux) not found: apt-get install util-linux');
    const cmd = `'${process.execPath}' '${CLI}' status --watch --count 4 --interval 0.6`;
    const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout);
    assert.ok(r.stdout.startsWith(`${ESC}[?1049h`), 'alternate screen, like top');
    assert.ok(r.stdout.trimEnd().endsWith(`${ESC}[?1049l`), 'and back to the shell screen');
    const frames = r.stdout.split(`${ESC}[H${ESC}[2J`).slice(1);
    assert.equal(frames.length, 4);
    const windows = frames.map((f) => {
      assert.match(f, /^hmmv status, every 0\.6 s, at \d\d:\d\d:\d\d \(Ctrl-C quits\)/);
      const line = f.split(/\r?\n/).find((l) => l.startsWith(domain));
      assert.ok(line, `the domain in every frame:\n${f}`);
      return Number(/(\d+)\s*$/.exec(line!)![1]);
    });
    assert.ok(windows.at(-1)! > windows[0]!, `windows run go up across frames: ${windows.join(', ')}`);
  });

  it('--watch prints timed snapshots through a pipe; bad options are refused', () => {
    const r = hmmv(['status', '--watch', '--count', '2', '--interval', '0.2']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stdout.includes(ESC));
    assert.equal(r.stdout.match(/^== hmmv status, every 0\.2 s, at /gm)?.length, 2);
    assert.match(hmmv(['status', '--watch', '--interval', '0']).stderr, /^hmmv status: --interval must be a number of seconds, at least 0\.1, not '0'/);
    assert.match(hmmv(['status', '--watch', '--json']).stderr, /--json and --watch do not go together/);
  });
});
