import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOOK_ENTRY, installHook, uninstallHook } from '../../plugin/libvirt/hook-install.js';
import { libvirtdPid } from '../helpers/libvirt.js';

describe('hooks install/uninstall', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-hooks-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs an executable script that runs the hook entry with this node, once', () => {
    const first = installHook({ dir });
    assert.equal(first.changed, true);
    const file = path.join(dir, 'hmmv');
    assert.equal(first.path, file);
    assert.equal(statSync(file).mode & 0o777, 0o755);
    const script = readFileSync(file, 'utf8');
    assert.ok(script.includes(process.execPath) && script.includes(HOOK_ENTRY), script);
    if (libvirtdPid()) assert.match(first.daemon, /reads hooks only at start and on SIGHUP: run 'hmmv hooks install --reload'/);
    else assert.match(first.daemon, /libvirtd is not running/);
    assert.equal(installHook({ dir }).changed, false, 'idempotent');

    // The script really runs the hook: bad argv gives the hook's usage error.
    assert.throws(() => execFileSync(file, [], { input: '', stdio: 'pipe' }), (e: { status: number; stderr: Buffer }) => {
      assert.equal(e.status, 2);
      assert.match(String(e.stderr), /expected arguments DOMAIN OP SUBOP EXTRA/);
      return true;
    });

    assert.equal(uninstallHook({ dir }).changed, true);
    assert.throws(() => statSync(file));
    assert.equal(uninstallHook({ dir }).changed, false);
  });

  it("never overwrites or removes a hook that is not hmmv's", () => {
    const file = path.join(dir, 'hmmv');
    writeFileSync(file, '#!/bin/sh\necho someone else\n', { mode: 0o755 });
    assert.throws(() => installHook({ dir }), /exists and is not hmmv's hook: not overwriting it/);
    assert.throws(() => uninstallHook({ dir }), /is not hmmv's hook: not removing it/);
    assert.equal(readFileSync(file, 'utf8'), '#!/bin/sh\necho someone else\n');
  });
});
