/**
 * hmmv.ko in the test-bed guest (Debian's 6.12 cloud kernel under TCG) with
 * an emulated NVDIMM set up as devdax and not onlined (the optane layer), the
 * module and its checker from the kmod layer. One boot runs everything
 * (test/kmod/in-guest-kmod.ts): the C checker against the module, then the
 * TypeScript backend, the hook's region life cycle and the engine against a
 * process mapping a region. Each `it` asserts on one reported fact; the run
 * is saved to .cache/testbed/kmod-last-run.json.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootGuest, cacheDir, type GuestRun, type GuestResult } from '../guest/testbed.js';

describe('hmmv.ko in the 6.12 TCG guest (devdax NVDIMM not onlined)', function () {
  let guest: GuestRun;

  before(async function () {
    this.timeout(15 * 60_000); // bounded: the first run fetches the headers and builds the layers
    guest = await bootGuest({
      scenario: 'checks',
      program: 'dist/test/kmod/in-guest-kmod.js',
      timeoutMs: 10 * 60_000,
      // The initramfs (node, the app and its node_modules, ~160 MB) is unpacked into RAM: room for it.
      dramMiB: 1024,
      nvmMiB: 0,
      nvdimms: [{ sizeMiB: 256, mode: 'devdax' }],
      layers: ['kmod'],
    });
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(join(cacheDir, 'kmod-last-run.json'), JSON.stringify({ totalSeconds: guest.totalSeconds, results: guest.results }, null, 2));
  });

  const result = (check: string): GuestResult & Record<string, any> => {
    const crash = guest.results.find((r) => r.check === 'kmod-crashed');
    const r = guest.results.find((x) => x.check === check);
    assert.ok(r, `the guest reported no "${check}"${crash ? `; the program crashed: ${String(crash.error)}` : ''}\nconsole tail:\n${guest.console.slice(-3000)}`);
    return r as GuestResult & Record<string, any>;
  };
  const ok = (check: string) => {
    const r = result(check);
    assert.equal(r.ok, true, JSON.stringify(r));
    return r;
  };

  it('the NVDIMM is a devdax device, not onlined; the module loads (unsigned: taint only) with a root-only control device', () => {
    const nv = ok('nvdimm-setup');
    assert.equal(nv.devices[0].mode, 'devdax');
    const load = ok('kmod-load');
    assert.deepEqual(load.daxDevices, ['dax0.0']);
    assert.equal(load.controlMode, '600');
    assert.match(load.banner, /hmmv: ABI 1, control device \/dev\/hmmv\/control/);
    assert.ok((load.taint & (1 << 12)) !== 0, 'taint O (out-of-tree)');
  });

  it('ABI: calls before HELLO fail (EPROTO), another ABI version is refused naming the module\'s (EPROTONOSUPPORT), nobody may open the device', () => {
    const r = ok('kmod-abi');
    assert.equal(r.beforeHello, 71);
    assert.equal(r.otherAbi, 93);
    assert.equal(r.moduleAbi, 1);
    assert.equal(r.nobodyRefused, true);
  });

  it('region creation refuses bad names, sizes, policies, System RAM and a devdax device another driver holds', () => ok('kmod-create-errors'));

  it('a region maps once, whole and shared; first touch fills DRAM to the limit, then NVM', () => {
    ok('kmod-create');
    const r = ok('kmod-mapping');
    assert.equal(r.firstTouchInOrder, true);
  });

  it('pages move between DRAM and devdax while two threads write: no page content lost', () => {
    const r = ok('kmod-migrate-while-writing');
    assert.equal(r.badPages, 0);
    assert.equal(r.failed, 0);
    assert.ok(r.moved >= r.pages * 2, JSON.stringify(r));
    assert.ok(r.writes > 0);
  });

  it('the write log holds exactly the pages each thread wrote, once each; reads log nothing', () => ok('kmod-dirty-log'));
  it('drained pages are re-armed: written again, they are logged again', () => ok('kmod-dirty-log-rearm'));
  it('a full log (512) sets its overflow flag; the full dirty scan finds exactly the writes the log missed', () => {
    const r = ok('kmod-dirty-log-overflow');
    assert.equal(r.logged, 512);
    assert.equal(r.scanFound, 88);
  });

  it('accessed test-and-clear matches a known access pattern per 4 KiB page and per 2 MiB unit', () => {
    assert.equal(ok('kmod-accessed').wrong, 0);
    assert.equal(ok('kmod-accessed-2m').reported, 2);
  });

  it('bad ioctls fail with error codes (and 400 random ones leave the region working)', () => ok('kmod-bad-ioctls'));

  it('every call with another size or direction than the header\'s, and an unknown number, fail with ENOTTY, region untouched', () => {
    const r = ok('kmod-bad-sizes');
    assert.equal(r.calls, 48);
    assert.equal(r.notEnotty, 0);
    assert.equal(r.helloOtherSize, 25, 'a HELLO of another size is ENOTTY, not EPROTO');
    assert.equal(r.afterIt, 71, 'and the file still has no HELLO');
    assert.equal(r.unknownNumber, 25);
    assert.equal(r.regionUnchanged, true);
  });

  it('bad page indices fail one by one (EINVAL) beside good ones; overflowing or overlong ranges are refused; contents kept', () => {
    const r = ok('kmod-bad-indices');
    assert.deepEqual(r.status, [-22, -22, 0, 0, 1, -22]);
    assert.deepEqual(r.rangeErrnos, [22, 22, 22, 22, 22, 0, 14]);
    assert.equal(r.contentsKept, true);
  });

  it('unprivileged opens: control refused to nobody (EACCES) and to root without CAP_SYS_ADMIN (EPERM); a region node to nobody only', () => {
    const r = ok('kmod-unprivileged');
    assert.equal(r.nobodyControl, 13);
    assert.equal(r.noCapControl, 1);
    assert.equal(r.nobodyRegion, 13);
    assert.equal(r.noCapRegion, 0);
  });

  it('a killed mapper frees its region\'s pages (devdax capacity back); the region survives a manager dying; two regions are independent', () => {
    ok('kmod-exit-frees');
    ok('kmod-independent-regions');
  });

  it('rmmod is refused while a region exists or is mapped, and works once everything is gone', () => ok('kmod-unload'));

  it('the hook\'s prepare creates the region (libvirt names made safe), refuses a device that is not devdax', () => {
    const r = ok('kmod-backend-prepare');
    assert.equal(r.nodeExists, true);
    assert.match(r.noSuchDax, /<hmmv:slow-tier> attribute devdax: \/dev\/dax9\.9 is not a devdax device/);
  });

  it('the manager\'s kmod backend opens the region of this domain\'s QEMU only', () => {
    const r = ok('kmod-backend-factory');
    assert.match(r.wrongPid, /mapped by process \d+, not by this domain's QEMU/);
    assert.match(r.noBlock, /no RAM block 'hmmv-ram'/);
  });

  it('the kmod memory host: tier map and usage, accessed bits, dirty log, migration with per-page outcomes', () => {
    ok('kmod-backend-tiers');
    ok('kmod-backend-accessed');
    ok('kmod-backend-dirty-log');
    const m = ok('kmod-backend-migrate');
    assert.equal(m.badReason, 'outside the region');
  });

  it('the engine on the module brings the hot pages from NVM to DRAM, guest contents intact', () => {
    const r = ok('kmod-backend-engine');
    assert.ok(r.totals.promoted >= 256, JSON.stringify(r.totals));
  });

  it('`hmmv host check` in the guest reports the loaded module, its ABI, the claimed devdax device', () => {
    const r = result('kmod-host-check');
    assert.equal(r.status, 0);
    const text = (r.stdout as string[]).join('\n');
    assert.match(text, /module +present +loaded, version 1\.0, ABI 1/);
    assert.match(text, /\/dev\/dax0\.0 +present +\d+ MiB, node \d+: claimed by hmmv\.ko/);
  });

  it('the hook\'s release after QEMU exits leaves no region, no claim, all devdax capacity free', () => ok('kmod-backend-release'));

  it('after every bad call the kernel log shows no oops, BUG, WARNING or lockup, the kernel is not tainted by one, and the refusals are named there', () => {
    const r = ok('kmod-kernel-log');
    assert.deepEqual(r.bad, []);
    assert.deepEqual(r.badTaint, []);
    const refusals = (r.refusals as string[]).join('\n');
    assert.match(refusals, /speaks ABI 99, this hmmv\.ko speaks 1: install matching versions/);
    assert.match(refusals, /called ioctl 0x[0-9a-f]+ before HMMV_IOC_HELLO/);
    assert.match(refusals, /call 0x00 is _IOWR of 24 bytes, not _IOWR of 4: build against this module's uapi\/hmmv\.h \(ABI 1\)/);
    assert.equal(guest.exitCode, 0);
  });
});
