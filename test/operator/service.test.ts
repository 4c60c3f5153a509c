import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installService, uninstallService } from '../../plugin/install/service.js';

const CLI = fileURLToPath(new URL('../../plugin/cli.js', import.meta.url));

function need(tool: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found: apt-get install ${pkg}`);
}

describe('pool daemon as a systemd service (packaging/)', function () {
  this.timeout(120_000);
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(os.tmpdir(), 'hmmv-svc-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('installs the unit, tmpfiles.d, logrotate and a pool config where the docs say', () => {
    const r = installService({ root, dram: '2GiB', policy: 'weighted' });
    const files = ['etc/systemd/system/hmmv-pool.service', 'etc/tmpfiles.d/hmmv.conf', 'etc/logrotate.d/hmmv', 'etc/hmmv/pool.json'];
    for (const f of files) assert.ok(existsSync(path.join(root, f)), f);
    assert.deepEqual(JSON.parse(readFileSync(path.join(root, 'etc/hmmv/pool.json'), 'utf8')), { poolPages: 524288, pageSizeBytes: 4096, policy: 'weighted' });
    assert.ok(r.steps.includes('to do: systemctl enable --now hmmv-pool.service'), r.steps.join('\n'));
    const unit = readFileSync(path.join(root, 'etc/systemd/system/hmmv-pool.service'), 'utf8');
    assert.ok(unit.includes(`ExecStart=${process.execPath} ${CLI} pool serve --config /etc/hmmv/pool.json`), unit);
    assert.match(unit, /^Before=libvirtd\.service virtqemud\.service libvirt-guests\.service$/m);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^WantedBy=multi-user\.target libvirtd\.service virtqemud\.service$/m);

    // A second install keeps the operator's config and refuses to override it from flags.
    assert.deepEqual(installService({ root }).kept, [path.join(root, 'etc/hmmv/pool.json')]);
    assert.throws(() => installService({ root, dram: '1GiB' }), /pool\.json exists: edit it/);
    assert.throws(() => installService({ root: mkdtempSync(path.join(os.tmpdir(), 'hmmv-svc-')) }), /give --dram SIZE/);
    assert.throws(() => installService({ root: mkdtempSync(path.join(os.tmpdir(), 'hmmv-svc-')), dram: 'lots' }), /size "lots" is not a size/);

    const u = uninstallService({ root });
    assert.equal(u.written.length, 3);
    assert.deepEqual(u.kept, [path.join(root, 'etc/hmmv/pool.json')]);
    assert.ok(!existsSync(path.join(root, 'etc/systemd/system/hmmv-pool.service')));
  });

  it('the unit passes systemd-analyze verify; a broken ExecStart does not', () => {
    need('systemd-analyze', 'systemd');
    installService({ root, dram: '1GiB' });
    const unit = path.join(root, 'etc/systemd/system/hmmv-pool.service');
    const ok = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stderr.trim(), '', 'no warnings');
    const broken = path.join(root, 'broken', 'hmmv-pool.service');
    mkdirSync(path.dirname(broken));
    writeFileSync(broken, readFileSync(unit, 'utf8').replace(process.execPath, '/nonexistent/node'));
    const bad = spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(bad.status, 0, 'the check can fail');
    assert.match(bad.stderr, /nonexistent\/node is not executable/);
  });

  it('tmpfiles.d makes /run/hmmv, /run/hmmv/qmp and /var/log/hmmv', () => {
    need('systemd-tmpfiles', 'systemd');
    installService({ root, dram: '1GiB' });
    execFileSync('systemd-tmpfiles', ['--create', `--root=${root}`, path.join(root, 'etc/tmpfiles.d/hmmv.conf')], { timeout: 60_000 });
    const mode = (p: string) => statSync(path.join(root, p)).mode & 0o7777;
    assert.equal(mode('run/hmmv'), 0o755);
    assert.equal(mode('run/hmmv/qmp'), 0o755);
    assert.equal(mode('var/log/hmmv'), 0o750);
  });

  it('logrotate rotates a manager log while the manager keeps appending to it', () => {
    need('logrotate', 'logrotate');
    installService({ root, dram: '1GiB' });
    const logDir = path.join(root, 'var/log/hmmv');
    mkdirSync(logDir, { recursive: true });
    const conf = path.join(root, 'logrotate.conf');
    writeFileSync(conf, readFileSync(path.join(root, 'etc/logrotate.d/hmmv'), 'utf8').replace('/var/log/hmmv/', `${logDir}/`));
    const log = path.join(logDir, 'vm1.log');
    const fd = openSync(log, 'a'); // as launchManager opens it
    try {
      writeSync(fd, '{"msg":"before rotation"}\n');
      const r = spawnSync('logrotate', ['--force', '--state', path.join(root, 'state'), conf], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      writeSync(fd, '{"msg":"after rotation"}\n');
    } finally {
      closeSync(fd);
    }
    assert.deepEqual(readdirSync(logDir).sort(), ['vm1.log', 'vm1.log.1']);
    assert.equal(readFileSync(path.join(logDir, 'vm1.log.1'), 'utf8'), '{"msg":"before rotation"}\n');
    assert.equal(readFileSync(log, 'utf8'), '{"msg":"after rotation"}\n', 'the open log continues at the start of the truncated file');
  });
});
