/**
 * Test helpers for suites that use the real libvirtd (qemu:///system): checks
 * it is up, runs virsh and the hmmv CLI with bounded waits, defines throw-away
 * domains (type 'qemu', no disk: they sit in firmware, enough for QMP and the
 * hook lifecycle) and removes them, and restarts libvirtd.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../plugin/cli.js', import.meta.url));
const SETUP = '.ci/setup.d/20-libvirtd.sh';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the command was killed for running past its bound. */
  timedOut: boolean;
}

/** Runs a command with a bound (a hang is a failure, not a stuck suite). */
export function run(cmd: string, args: readonly string[], options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env = options.env ? { ...process.env, ...options.env } : process.env;
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 60000, killSignal: 'SIGKILL', maxBuffer: 16 << 20, env }, (error, stdout, stderr) => {
      const e = error as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : child.exitCode ?? -1) : 0,
        stdout,
        stderr: e && typeof e.code === 'string' ? `${stderr}${e.message}` : stderr,
        timedOut: Boolean(e?.killed),
      });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export const virsh = (args: readonly string[], timeoutMs = 60000) => run('virsh', ['-c', 'qemu:///system', ...args], { timeoutMs });
export const hmmv = (args: readonly string[], timeoutMs = 60000) => run(process.execPath, [CLI, ...args], { timeoutMs });

/** Fails with what to do when virsh or libvirtd is missing. */
export async function requireLibvirtd(): Promise<void> {
  const r = await virsh(['version'], 30000);
  if (r.code !== 0) {
    const missing = /ENOENT/.test(r.stderr);
    throw new Error(
      missing
        ? `virsh is not installed: apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 (see .ci/apt-packages.d/libvirt.txt), then run bash ${SETUP}`
        : `libvirtd does not answer on qemu:///system (${r.stderr.trim() || `exit ${r.code}`}): start it with 'bash ${SETUP}' (as root)`,
    );
  }
}

export function libvirtdPid(): number | undefined {
  try {
    const pid = Number(readFileSync('/run/libvirtd.pid', 'utf8').trim());
    return existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `check` holds; returns its last value. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Stops libvirtd (running domains keep running) and starts it again; waits until it answers. */
export async function restartLibvirtd(): Promise<void> {
  const pid = libvirtdPid();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    await waitFor('libvirtd to exit', () => !existsSync(`/proc/${pid}`), 30000);
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn('libvirtd', ['-d'], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`libvirtd -d exited with ${code}`))));
  });
  await waitFor('libvirtd to answer after restart', async () => (await virsh(['version'], 20000)).code === 0, 90000);
}

export function uniqueName(stem: string): string {
  return `hmmv-t-${stem}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

/** A minimal TCG domain with no disk: QEMU starts and stays in firmware. */
export function domainXml(name: string, extra = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
  ${extra}
</domain>
`;
}

export async function defineDomain(xml: string): Promise<void> {
  const file = path.join(os.tmpdir(), `hmmv-domain-${process.pid}-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  try {
    const r = await virsh(['define', file]);
    if (r.code !== 0) throw new Error(`virsh define failed: ${r.stderr}`);
  } finally {
    rmSync(file, { force: true });
  }
}

/** Destroys (if running) and undefines a test domain; never throws. */
export async function removeDomain(name: string): Promise<void> {
  await virsh(['destroy', name], 30000);
  await virsh(['undefine', name], 30000);
}

/** The QEMU pid libvirt recorded for a running domain. */
export function qemuPidOf(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim());
    return existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** QEMU processes whose command line names this domain (guest=NAME). */
export function qemuProcessesFor(name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('qemu-system') && argv.some((a) => a === `guest=${name},debug-threads=on` || a.startsWith(`guest=${name},`))) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
