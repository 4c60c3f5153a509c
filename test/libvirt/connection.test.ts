import assert from 'node:assert/strict';
import { LibvirtConnection } from '../../plugin/libvirt/connection.js';
import { requireLibvirtd } from '../helpers/libvirt.js';

describe('libvirt connection', function () {
  this.timeout(60000);

  it('without the bindings: a clear error saying what to install', async () => {
    await assert.rejects(LibvirtConnection.open('qemu:///system', 'hmmv-test-no-such-bindings'), (e: Error) => {
      assert.match(e.message, /the libvirt bindings \(hmmv-test-no-such-bindings\) are not available/);
      assert.match(e.message, /apt-get install libvirt-dev pkg-config make g\+\+ python3.*npm install/);
      return true;
    });
  });

  it('libvirtd not reachable: an error naming the URI and the set-up step', async () => {
    await assert.rejects(LibvirtConnection.open('qemu+unix:///system?socket=/nonexistent/libvirt-sock'), (e: Error) => {
      assert.match(e.message, /cannot connect to libvirt at qemu\+unix:\/\/\/system\?socket=\/nonexistent\/libvirt-sock: .*Is libvirtd running/);
      return true;
    });
  });

  it('with the bindings and libvirtd: connects and finds no domain by a made-up name', async () => {
    await requireLibvirtd();
    await LibvirtConnection.with(async (c) => {
      await assert.rejects(c.inactiveXml('hmmv-no-such-domain'), /no domain named 'hmmv-no-such-domain' on qemu:\/\/\/system/);
    });
  });
});
