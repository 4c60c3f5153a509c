/**
 * `hmmv hooks install|uninstall`: a small shell script in libvirt's
 * /etc/libvirt/hooks/qemu.d/ that runs hmmv's hook (dist/hooks/qemu.js) with
 * this Node. libvirtd looks for hook scripts when it starts and when it gets
 * SIGHUP (measured on libvirt 9.0), so a freshly installed hook is seen only
 * after one of those; `--reload` sends the SIGHUP.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStartTime } from '../runtime/pidfile.js';

export const DEFAULT_HOOK_DIR = '/etc/libvirt/hooks/qemu.d';
export const HOOK_NAME = 'hmmv';
const MARKER = '# hmmv libvirt hook';

/** dist/hooks/qemu.js */
export const HOOK_ENTRY = fileURLToPath(new URL('../../hooks/qemu.js', import.meta.url));

/** The daemons that run QEMU hooks: monolithic libvirtd, or the modular virtqemud. */
const DAEMON_PIDFILES = ['/run/libvirtd.pid', '/run/virtqemud.pid'];

export function hookScript(node = process.execPath, entry = HOOK_ENTRY): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n${MARKER} (installed by 'hmmv hooks install'; remove with 'hmmv hooks uninstall')\nexec ${q(node)} ${q(entry)} "$@"\n`;
}

function runningDaemon(): { pid: number; pidfile: string } | undefined {
  for (const pidfile of DAEMON_PIDFILES) {
    try {
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1 && processStartTime(pid) !== undefined) return { pid, pidfile };
    } catch {
      // not this daemon
    }
  }
  return undefined;
}

export interface HookInstallResult {
  path: string;
  changed: boolean;
  /** What the user must do (or what was done) for libvirtd to see the hook. */
  daemon: string;
}

function reloadOrAdvise(reload: boolean, what: string): string {
  const daemon = runningDaemon();
  if (!daemon) return `libvirtd is not running: it will see the hook ${what} when it starts`;
  if (reload) {
    process.kill(daemon.pid, 'SIGHUP');
    return `sent SIGHUP to libvirtd (pid ${daemon.pid}): it re-reads its hooks ${what}`;
  }
  return (
    `libvirtd (pid ${daemon.pid}) reads hooks only at start and on SIGHUP: run 'hmmv hooks install --reload', ` +
    `'systemctl reload libvirtd' or 'kill -HUP ${daemon.pid}' so it sees the change ${what}`
  );
}

export function installHook(options: { dir?: string; reload?: boolean } = {}): HookInstallResult {
  const dir = options.dir ?? DEFAULT_HOOK_DIR;
  const file = path.join(dir, HOOK_NAME);
  if (!existsSync(HOOK_ENTRY)) throw new Error(`the hook entry ${HOOK_ENTRY} is missing: run 'npm run build' first`);
  const script = hookScript();
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== undefined && !current.includes(MARKER)) throw new Error(`${file} exists and is not hmmv's hook: not overwriting it`);
  const changed = current !== script;
  if (changed) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, script, { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, file);
  }
  return { path: file, changed, daemon: changed || options.reload ? reloadOrAdvise(options.reload ?? false, '(installed)') : 'unchanged; nothing to reload' };
}

export function uninstallHook(options: { dir?: string; reload?: boolean } = {}): HookInstallResult {
  const dir = options.dir ?? DEFAULT_HOOK_DIR;
  const file = path.join(dir, HOOK_NAME);
  if (!existsSync(file)) return { path: file, changed: false, daemon: 'not installed; nothing to do' };
  if (!readFileSync(file, 'utf8').includes(MARKER)) throw new Error(`${file} is not hmmv's hook: not removing it`);
  rmSync(file);
  return { path: file, changed: true, daemon: reloadOrAdvise(options.reload ?? false, '(removed)') };
}
