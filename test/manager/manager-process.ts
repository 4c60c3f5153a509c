/**
 * Test helpers for suites that run `hmmv manage` as a process: a domain XML
 * with tiering metadata in a temp dir, the manager's output collected, its
 * status file read, bounded waits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TIERING_NS } from '../../plugin/libvirt/tiering-metadata.js';
import { statusPath } from '../../plugin/runtime/paths.js';
import type { ManagerStatus } from '../../plugin/runtime/status-file.js';

export const CLI = fileURLToPath(new URL('../../plugin/cli.js', import.meta.url));

export function readStatus(domain: string): ManagerStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusPath(domain), 'utf8')) as ManagerStatus;
  } catch {
    return undefined;
  }
}

export async function waitFor<T>(what: string, check: () => T | undefined | false, ms = 30000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function exitOf(child: ChildProcess, ms = 30000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => reject(new Error(`manager did not exit within ${ms} ms`)), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export interface ManagerProcess {
  child: ChildProcess;
  /** Everything it printed so far (JSON lines). */
  log(): string;
}

export interface ManagerXml {
  /** Attributes of <hmmv:tiering> (default backend="sim"). */
  backend?: string;
  /** Attributes of <hmmv:dram> (default quota="64MiB"). */
  dram?: string;
  /** More children of <hmmv:tiering> (slow tier, tracking). */
  extra?: string;
  /** The pool daemon socket (default: dir/pool.sock, where no daemon runs unless the test starts one). */
  poolSocket?: string;
}

/** Starts `hmmv manage` for `domain` on the QMP socket `socket`, with the metadata in `dir/domain.xml`. */
export function startManager(dir: string, domain: string, socket: string, xml: ManagerXml = {}): ManagerProcess {
  const file = path.join(dir, 'domain.xml');
  writeFileSync(
    file,
    `<domain type='qemu'><name>${domain}</name><metadata><hmmv:tiering xmlns:hmmv="${TIERING_NS}" ${xml.backend ?? 'backend="sim"'}>` +
      `<hmmv:dram ${xml.dram ?? 'quota="64MiB"'}/>${xml.extra ?? ''}<hmmv:qmp socket="${socket}"/>` +
      `<hmmv:pool socket="${xml.poolSocket ?? path.join(dir, 'pool.sock')}"/></hmmv:tiering></metadata></domain>`,
  );
  let log = '';
  const child = spawn(process.execPath, [CLI, 'manage', '--domain', domain, '--domain-xml', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (log += d));
  child.stderr!.on('data', (d: Buffer) => (log += d));
  return { child, log: () => log };
}
