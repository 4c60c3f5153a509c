/**
 * `hmmv hooks install|uninstall`: a small shell script in libvirt's
 * /etc/libvirt/hooks/qemu.d/ that runs hmmv's hook (dist/hooks/qemu.js of the
 * copy of hmmv that ran `hmmv hooks install`, e.g. the global install) with
 * this Node. libvirtd looks for hook scripts when it starts and when it gets
 * SIGHUP (measured on libvirt 9.0), so a freshly installed hook is seen only
 * after one of those; `--reload` sends the SIGHUP.
 *
 * libvirtd runs the hook as root: the install refuses when a non-root user
 * could change node, the entry or the package (`root-only.ts`). When the entry
 * is missing (hmmv removed, or mid-upgrade) the script leaves domains without
 * hmmv metadata alone and fails only the start of an hmmv domain, saying why.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStartTime } from '../runtime/pidfile.js';
import { findNonRootWritableInstall } from '../util/root-only.js';
import { packageRoot } from '../pool/wire.js';
import { TIERING_NS } from './namespace.js';

export const DEFAULT_HOOK_DIR = '/etc/libvirt/hooks/qemu.d';
export const HOOK_NAME = 'hmmv';
const MARKER = '# hmmv libvirt hook';

/** dist/hooks/qemu.js */
export const HOOK_ENTRY = fileURLToPath(new URL('../../hooks/qemu.js', import.meta.url));

/** The daemons that run QEMU hooks: monolithic libvirtd, or the modular virtqemud. */
const DAEMON_PIDFILES = ['/run/libvirtd.pid', '/run/virtqemud.pid'];

export function hookScript(node = process.execPath, entry = HOOK_ENTRY): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    `${MARKER} (installed by 'hmmv hooks install'; remove with 'hmmv hooks uninstall')`,
    `if [ ! -f ${q(entry)} ] || [ ! -x ${q(node)} ]; then`,
    '  # hmmv was removed or is being upgraded: only a domain with hmmv metadata cares.',
    '  # grep -c reads all of stdin: libvirtd must be able to write the whole XML.',
    `  if [ "$(grep -c ${q(TIERING_NS)})" != 0 ]; then`,
    `    echo ${q(`hmmv hook: ${entry} or ${node} is missing (hmmv removed or being upgraded): reinstall hmmv, or run 'hmmv domain disable' on this domain`)} >&2`,
    '    [ "$2" = prepare ] && exit 1',
    '  fi',
    '  exit 0',
    'fi',
    `exec ${q(node)} ${q(entry)} "$@"`,
    '',
  ].join('\n');
}

/** What the hook runs as root: node, the entry, and the package's code and data. */
export function hookTrustFailure(node = process.execPath, entry = HOOK_ENTRY, root = packageRoot()): string | undefined {
  const bad = findNonRootWritableInstall(node, entry, root);
  if (!bad) return undefined;
  return (
    `refusing to install the hook: ${bad.path} ${bad.reason}. libvirtd runs the hook (and it the managers) as root, ` +
    `so whoever can change that path can run code as root. Install hmmv as root (npm install -g ./hmmv-VERSION.tgz), ` +
    `or make the path root's alone (chown root:root, chmod go-w)`
  );
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
  /** What the hook runs, and a warning when that is a development checkout. */
  runs?: string;
  note?: string;
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

export interface HookInstallOptions {
  dir?: string;
  reload?: boolean;
  /** What the hook runs (tests point these elsewhere): default this node and this copy of hmmv. */
  node?: string;
  entry?: string;
  packageRoot?: string;
}

export function installHook(options: HookInstallOptions = {}): HookInstallResult {
  const dir = options.dir ?? DEFAULT_HOOK_DIR;
  const file = path.join(dir, HOOK_NAME);
  const node = options.node ?? process.execPath;
  const entry = options.entry ?? HOOK_ENTRY;
  if (!existsSync(entry)) throw new Error(`the hook entry ${entry} is missing: run 'npm run build' first`);
  const untrusted = hookTrustFailure(node, entry, options.packageRoot ?? packageRoot());
  if (untrusted) throw new Error(untrusted);
  const script = hookScript(node, entry);
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
  const root = options.packageRoot ?? packageRoot();
  const result: HookInstallResult = {
    path: file,
    changed,
    daemon: changed || options.reload ? reloadOrAdvise(options.reload ?? false, '(installed)') : 'unchanged; nothing to reload',
    runs: `${node} ${entry}`,
  };
  if (existsSync(path.join(root, '.git')))
    result.note = `the hook runs the development checkout ${root}: removing or rebuilding it changes what libvirtd runs; on a host, install the package (npm install -g ./hmmv-VERSION.tgz) and run its 'hmmv hooks install'`;
  return result;
}

export function uninstallHook(options: { dir?: string; reload?: boolean } = {}): HookInstallResult {
  const dir = options.dir ?? DEFAULT_HOOK_DIR;
  const file = path.join(dir, HOOK_NAME);
  if (!existsSync(file)) return { path: file, changed: false, daemon: 'not installed; nothing to do' };
  if (!readFileSync(file, 'utf8').includes(MARKER)) throw new Error(`${file} is not hmmv's hook: not removing it`);
  rmSync(file);
  return { path: file, changed: true, daemon: reloadOrAdvise(options.reload ?? false, '(removed)') };
}
