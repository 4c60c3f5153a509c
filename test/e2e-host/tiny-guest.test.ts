/**
 * The tiny nested guest (tiny-guest/tiny.c) on this machine's QEMU, before it
 * is trusted inside the emulated-Optane host: it boots by multiboot, reports
 * on its serial port, answers a check request, and a word flipped in its RAM
 * from outside (through /proc/QEMU/mem at the gpa2hva address) fails the next
 * check, in the hot and in the cold region; bad arguments are refused.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QmpClient, QmpCommands } from '../../qmp/index.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';
import { TinyConsole } from './tiny-domain.js';

const BUILD = fileURLToPath(new URL('../../../test/e2e-host/tiny-guest/build.sh', import.meta.url));
const MiB = 1 << 20;

function flipWord(pid: number, hva: number): () => void {
  const fd = openSync(`/proc/${pid}/mem`, 'r+');
  try {
    const word = Buffer.alloc(4);
    readSync(fd, word, 0, 4, hva);
    writeSync(fd, Buffer.from(word.map((b) => b ^ 0xff)), 0, 4, hva);
    return () => {
      const fd2 = openSync(`/proc/${pid}/mem`, 'r+');
      writeSync(fd2, word, 0, 4, hva);
      closeSync(fd2);
    };
  } finally {
    closeSync(fd);
  }
}

describe('the tiny nested guest on plain QEMU (TCG)', function () {
  this.timeout(120000);
  let dir: string;
  let elf: string;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-tiny-'));
    elf = path.join(dir, 'tiny.elf');
    try {
      execFileSync('bash', [BUILD, elf], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      throw new Error(`building the tiny guest failed (needs gcc and binutils: apt-get install gcc binutils): ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const boot = (append: string, serial: string[]): Promise<QemuInstance> =>
    startQemu({ numaNodes: [], memoryMiB: 48, paused: false, cpus: 1, extraArgs: ['-kernel', elf, '-append', append, ...serial] });

  it('reports, answers a check request, and a word flipped from outside fails the next check in either region', async () => {
    const sock = path.join(dir, 'serial.sock');
    const qemu = await boot('hot=4M:8M cold=12M:34M pass=20 check=600', ['-chardev', `socket,id=ser0,path=${sock},server=on,wait=off`, '-serial', 'chardev:ser0']);
    let tty: TinyConsole | undefined;
    let client: QmpClient | undefined;
    try {
      tty = await TinyConsole.openPath('tiny', sock);
      await tty.waitReady(60000);
      const clean = await tty.check();
      assert.deepEqual([clean.hotBad, clean.coldBad], [0, 0]);
      assert.ok(clean.pass > 0, 'the hot region is being rewritten');

      client = await QmpClient.connect({ path: qemu.qmpSocketPath });
      const qmp = new QmpCommands(client);
      const where = async (gpa: number) => {
        const r = await qmp.gpaToHva(gpa);
        assert.equal(r.kind, 'ram');
        return (r as { hva: number }).hva;
      };
      // a word of the cold region, and a word of the hot region the passes never rewrite
      const undoCold = flipWord(qemu.pid, await where(12 * MiB + 7 * 4096 + 12));
      const undoHot = flipWord(qemu.pid, await where(4 * MiB + 3 * 4096 + 8));
      const bad = await tty.check();
      assert.deepEqual([bad.hotBad, bad.coldBad], [1, 1], JSON.stringify(bad));
      assert.equal(tty.bad.length, 2, tty.bad.join('\n'));
      assert.match(tty.bad[0]!, /^TINY BAD region=hot gpa=0x00403008 /);
      undoCold();
      undoHot();
      const again = await tty.check();
      assert.deepEqual([again.hotBad, again.coldBad], [0, 0]);
      // each answer names the requests read before it began (how check() knows a check began after asking)
      assert.deepEqual([clean.asked, bad.asked, again.asked], [1, 2, 3]);
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok(tty.beating(), 'heartbeats keep coming');
      assert.deepEqual(tty.guestTotals, { checks: 3, hotBad: 1, coldBad: 1 }, 'the heartbeat carries the totals');
    } finally {
      tty?.close();
      await client?.close().catch(() => undefined);
      await qemu.stop();
    }
  });

  it('refuses regions that overlap each other, the program or the end of RAM', async () => {
    const log = path.join(dir, 'badargs.log');
    const qemu = await boot('hot=4M:8M cold=8M:8M', ['-serial', `file:${log}`]);
    try {
      const deadline = Date.now() + 60000;
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes('TINY BADARGS')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.match(readFileSync(log, 'utf8'), /TINY BOOT mem=\d+ hot=0x00400000\+8388608 cold=0x00800000\+8388608[^\n]*\nTINY BADARGS /);
    } finally {
      await qemu.stop();
    }
  });
});
