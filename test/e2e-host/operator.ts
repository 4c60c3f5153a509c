/**
 * What an operator types on the emulated-Optane host, as functions with
 * bounded waits and their wall time: sysctl, `hmmv host check`, `hmmv hooks
 * install`, the pool daemon, `virsh define/start/destroy`, `hmmv domain
 * enable`, `hmmv status`. `hmmv` is the installed command (/usr/local/bin/hmmv,
 * as `npm link` or a global install leaves it), never dist/ by path.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, type Run } from '../helpers/libvirt.js';

export const HMMV_BIN = '/usr/local/bin/hmmv';
export const POOL_LOG = '/var/log/hmmv/pool.log';

export interface Timed extends Run {
  seconds: number;
  command: string;
}

export async function sh(cmd: string, args: readonly string[], timeoutMs = 60000): Promise<Timed> {
  const t = Date.now();
  const r = await run(cmd, args, { timeoutMs });
  return { ...r, seconds: (Date.now() - t) / 1000, command: [cmd, ...args].join(' ') };
}

/** Fails naming the command and what it printed. */
export function ok(r: Timed): Timed {
  if (r.code !== 0) throw new Error(`\`${r.command}\` failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${(r.stderr || r.stdout).trim().slice(0, 1500)}`);
  return r;
}

export const virsh = (args: readonly string[], timeoutMs = 180000) => sh('virsh', ['-c', 'qemu:///system', ...args], timeoutMs);
export const hmmv = (args: readonly string[], timeoutMs = 180000) => sh(HMMV_BIN, args, timeoutMs);

/** Installs hmmv from the app folder as `npm link` would: the bin, executable, on PATH. */
export function installHmmv(appDir: string): void {
  const cli = path.join(appDir, 'dist/plugin/cli.js');
  chmodSync(cli, 0o755);
  mkdirSync(path.dirname(HMMV_BIN), { recursive: true });
  rmSync(HMMV_BIN, { force: true });
  symlinkSync(cli, HMMV_BIN);
}

/** Starts `hmmv pool serve` detached (own session, output to its log); returns its pid. */
export function startPoolDaemon(args: readonly string[]): number {
  mkdirSync(path.dirname(POOL_LOG), { recursive: true });
  const log = openSync(POOL_LOG, 'a');
  try {
    const child = spawn(HMMV_BIN, ['pool', 'serve', ...args], { detached: true, stdio: ['ignore', log, log], cwd: '/' });
    child.unref();
    if (child.pid === undefined) throw new Error('could not start hmmv pool serve');
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function writeFile(file: string, text: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `check` gives a value; polls every `everyMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const processAlive = (pid: number) => existsSync(`/proc/${pid}`);
