/** The suite's CPU accounting: which kind each process of the test-bed host counts under, and a live snapshot. */
import assert from 'node:assert/strict';
import { cpuSince, cpuSnapshot, kindOf } from './cpu-usage.js';

describe('e2e-host CPU accounting', () => {
  it('names each process of the test-bed host by its command line', () => {
    assert.equal(kindOf('qemu-system-x86', ['/usr/bin/qemu-system-x86_64', '-name', 'guest=tiny-a,debug-threads=on']), 'qemu tiny-a');
    assert.equal(kindOf('node', ['/usr/bin/node', '/hmmv/dist/plugin/cli.js', 'manage', '--domain', 'tiny-k', '--domain-xml', '/run/hmmv/tiny-k.xml']), 'manager tiny-k');
    assert.equal(kindOf('node', ['/usr/bin/node', '/usr/local/bin/hmmv', 'pool', 'serve', '--pages', '10240']), 'pool daemon');
    assert.equal(kindOf('kdamond.1', []), 'kdamond');
    assert.equal(kindOf('libvirtd', ['/usr/sbin/libvirtd']), 'libvirtd');
    assert.equal(kindOf('node', ['node', '/hmmv/dist/test/e2e-host/in-host.js', 'all']), 'in-host program');
    assert.equal(kindOf('bash', ['bash']), 'other');
  });

  it('counts CPU this process spends between two snapshots', () => {
    const before = cpuSnapshot();
    const until = process.cpuUsage().user + 300_000;
    let x = 0;
    while (process.cpuUsage().user < until) x++;
    const d = cpuSince(before, cpuSnapshot());
    assert.ok(x > 0);
    assert.ok((d.byKind['other'] ?? 0) >= 0.2, JSON.stringify(d));
    assert.ok(d.host.busy >= 0.2, JSON.stringify(d));
  });
});
