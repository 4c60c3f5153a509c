#!/usr/bin/env node
/**
 * libvirt QEMU hook entry, run by libvirtd as /etc/libvirt/hooks/qemu.d/hmmv
 * (installed by `hmmv hooks install`) with argv DOMAIN OP SUBOP EXTRA and the
 * domain XML on stdin. The logic lives in plugin/libvirt/hook.ts; this file
 * decides cheaply whether it is needed at all, because libvirtd waits for every
 * hook on every domain's lifecycle step.
 */
import { existsSync, readFileSync } from 'node:fs';
import { TIERING_NS } from '../plugin/libvirt/namespace.js';
import { pidfilePath, statusPath } from '../plugin/runtime/paths.js';

const args = process.argv.slice(2);
const [domain = '', op = ''] = args;

// libvirtd writes the domain XML to stdin and closes it. Read it all, whatever
// the op: leaving it unread could fail libvirtd's write to the hook.
let xml = '';
try {
  xml = readFileSync(0, 'utf8');
} catch (error) {
  process.stderr.write(`hmmv hook: cannot read the domain XML from stdin: ${(error as Error).message}\n`);
  process.exit(op === 'prepare' ? 1 : 0);
}

/** Only these ops matter, and only for domains with our metadata or a manager to stop. */
function relevant(): boolean {
  if (op === 'release') {
    if (domain === '' || domain.includes('/')) return false;
    return existsSync(pidfilePath(domain)) || existsSync(statusPath(domain));
  }
  return ['prepare', 'started', 'reconnect', 'migrate'].includes(op) && xml.includes(TIERING_NS);
}

if (relevant() || args.length < 2) {
  try {
    const { runHook } = await import('../plugin/libvirt/hook.js');
    const result = await runHook(args, xml);
    if (result.stderr) process.stderr.write(result.stderr);
    process.exitCode = result.code;
  } catch (error) {
    // An unexpected failure must not take the domain down after prepare.
    process.stderr.write(`hmmv hook: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = op === 'prepare' ? 1 : 0;
  }
}
