import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findNonRootWritable } from '../../plugin/util/root-only.js';
import { hookScript, installHook } from '../../plugin/libvirt/hook-install.js';
import { TIERING_NS } from '../../plugin/libvirt/namespace.js';

/** A fake installed package: package.json, dist/hooks/qemu.js, node_modules/dep/index.js, all root's. */
function fakePackage(base: string): { root: string; entry: string } {
  const root = path.join(base, 'lib', 'node_modules', 'hmmv');
  mkdirSync(path.join(root, 'dist', 'hooks'), { recursive: true });
  mkdirSync(path.join(root, 'node_modules', 'dep'), { recursive: true });
  mkdirSync(path.join(root, 'schemas'));
  writeFileSync(path.join(root, 'package.json'), '{"name":"hmmv","version":"0.0.0"}\n');
  const entry = path.join(root, 'dist', 'hooks', 'qemu.js');
  writeFileSync(entry, 'process.exit(0)\n');
  writeFileSync(path.join(root, 'node_modules', 'dep', 'index.js'), '\n');
  return { root, entry };
}

describe('hooks install refuses code a non-root user could change', function () {
  let base: string;
  let hooks: string;
  before(function () {
    if (process.getuid?.() !== 0) throw new Error('these checks chown files to other users: run the suite as root (as CI does)');
  });
  beforeEach(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'hmmv-trust-'));
    hooks = path.join(base, 'hooks');
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const install = (pkg: { root: string; entry: string }) => installHook({ dir: hooks, entry: pkg.entry, packageRoot: pkg.root });

  it('installs when node, the entry and the package are root-only', () => {
    const pkg = fakePackage(base);
    assert.equal(install(pkg).changed, true);
  });

  it('names a dependency file owned by another user', () => {
    const pkg = fakePackage(base);
    const dep = path.join(pkg.root, 'node_modules', 'dep', 'index.js');
    chownSync(dep, 12345, 0);
    assert.throws(() => install(pkg), (e: Error) => {
      assert.match(e.message, /^refusing to install the hook: /);
      assert.ok(e.message.includes(`${dep} is owned by uid 12345, not root`), e.message);
      return true;
    });
  });

  it('names a group-writable entry and a world-writable directory above the package', () => {
    const pkg = fakePackage(base);
    chownSync(pkg.entry, 0, 4242);
    chmodSync(pkg.entry, 0o664);
    assert.throws(() => install(pkg), new RegExp(`${pkg.entry} is writable by group 4242`));
    chmodSync(pkg.entry, 0o644);
    const lib = path.join(base, 'lib');
    chmodSync(lib, 0o777);
    assert.throws(() => install(pkg), new RegExp(`${lib} is writable by everyone`));
    // With the sticky bit (as /tmp) nobody else can replace root's entries: fine.
    chmodSync(lib, 0o1777);
    assert.equal(install(pkg).changed, true);
  });

  it('follows a link in the package to an unsafe target outside it', () => {
    const pkg = fakePackage(base);
    const outside = path.join(base, 'elsewhere');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'evil.js'), '\n');
    chownSync(path.join(outside, 'evil.js'), 777, 777);
    symlinkSync(path.join(outside, 'evil.js'), path.join(pkg.root, 'node_modules', 'dep', 'linked.js'));
    assert.throws(() => install(pkg), /evil\.js is owned by uid 777, not root \(reached through the link .*linked\.js\)/);
  });

  it('checks node itself', () => {
    const pkg = fakePackage(base);
    const fakeNode = path.join(base, 'node');
    writeFileSync(fakeNode, '#!/bin/sh\n', { mode: 0o755 });
    chownSync(fakeNode, 1000, 1000);
    assert.throws(() => installHook({ dir: hooks, entry: pkg.entry, packageRoot: pkg.root, node: fakeNode }), new RegExp(`${fakeNode} is owned by uid 1000`));
    assert.deepEqual(findNonRootWritable([process.execPath]), undefined, `${process.execPath} should be root's`);
  });
});

describe('the installed hook script when hmmv is gone', () => {
  const hmmvXml = `<domain type='qemu'><name>d</name><metadata><hmmv:tiering xmlns:hmmv='${TIERING_NS}' backend='sim'/></metadata></domain>`;
  const plainXml = `<domain type='qemu'><name>d</name></domain>`;
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-gone-'));
    writeFileSync(path.join(dir, 'hmmv'), hookScript(process.execPath, path.join(dir, 'removed', 'qemu.js')), { mode: 0o755 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const runHook = (op: string, xml: string) => {
    try {
      execFileSync(path.join(dir, 'hmmv'), ['d', op, 'begin', '-'], { input: xml, stdio: 'pipe' });
      return { code: 0, stderr: '' };
    } catch (e) {
      const err = e as { status: number; stderr: Buffer };
      return { code: err.status, stderr: String(err.stderr) };
    }
  };

  it('leaves domains without hmmv metadata alone', () => {
    for (const op of ['prepare', 'started', 'release']) assert.deepEqual(runHook(op, plainXml), { code: 0, stderr: '' }, op);
  });

  it("fails an hmmv domain's start, saying what is missing, and lets its other steps pass", () => {
    const r = runHook('prepare', hmmvXml);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /removed\/qemu\.js or .* is missing \(hmmv removed or being upgraded\): reinstall hmmv, or run 'hmmv domain disable'/);
    assert.equal(runHook('release', hmmvXml).code, 0);
  });
});
