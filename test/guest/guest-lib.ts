/**
 * Shared pieces of the in-guest programs (they run INSIDE the test-bed guest):
 * result lines on the console, the workload process, page-range helpers.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { bitmapGet, type Bitmap } from '../../plugin/util/bitmap.js';
import type { LinuxMemoryHost } from '../../plugin/host/linux/linux-host.js';
import { movePagesRaw } from '../../plugin/host/linux/move-pages.js';

export function report(check: string, data: Record<string, unknown>): void {
  process.stdout.write(`HMMV-RESULT ${JSON.stringify({ check, ...data })}\n`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

export interface WorkloadRegion {
  name: 'hot-read' | 'hot-write' | 'cold';
  start: string;
  pages: number;
}

export class Workload {
  readonly lines: string[] = [];
  private waiters: ((line: string) => void)[] = [];
  private constructor(
    readonly proc: ChildProcessWithoutNullStreams,
    readonly pid: number,
    readonly regions: WorkloadRegion[],
  ) {}

  /** thp: false (4 KiB pages only), 'cold' (the cold region asks for THP), 'all' (every region does). */
  static async start(hotRead: number, hotWrite: number, cold: number, thp: false | 'cold' | 'all' = false): Promise<Workload> {
    const proc = spawn('/bin/workload', [String(hotRead), String(hotWrite), String(cold)], { env: { ...process.env, WORKLOAD_THP: thp === 'all' ? 'all' : thp === 'cold' ? '1' : '0' } });
    const rl = createInterface({ input: proc.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      rl.once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`workload exited (${code})`)));
    });
    const info = JSON.parse(first.replace(/^WORKLOAD /, '')) as { pid: number; regions: WorkloadRegion[] };
    const w = new Workload(proc, info.pid, info.regions);
    rl.on('line', (l) => {
      const waiter = w.waiters.shift();
      if (waiter) waiter(l);
      else w.lines.push(l);
    });
    return w;
  }

  /** Asks the workload to check every page against what it last wrote. */
  async verify(): Promise<Record<string, number>> {
    const line = new Promise<string>((resolve) => this.waiters.push(resolve));
    process.kill(this.pid, 'SIGUSR1');
    return JSON.parse((await line).replace(/^VERIFY /, '')) as Record<string, number>;
  }

  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

/** Page ranges [first, first+count) of each workload region in the host's page numbering. */
export function regionPages(host: LinuxMemoryHost): Record<string, { first: number; count: number }> {
  const out: Record<string, { first: number; count: number }> = {};
  for (const r of host.regions()) out[r.name] = { first: r.firstPage, count: r.pageCount };
  return out;
}

export function fractionSet(map: Bitmap, first: number, count: number): number {
  let n = 0;
  for (let i = first; i < first + count; i++) if (bitmapGet(map, i)) n++;
  return n / count;
}

export function perRegion(host: LinuxMemoryHost, map: Bitmap): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, r] of Object.entries(regionPages(host))) out[name] = Number(fractionSet(map, r.first, r.count).toFixed(3));
  return out;
}

/** sha256 of each page of a range of the workload's memory, read through /proc/PID/mem. */
export function pageHashes(pid: number, start: bigint, pages: number): string[] {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  const buf = Buffer.alloc(4096);
  const out: string[] = [];
  try {
    for (let p = 0; p < pages; p++) {
      const got = readSync(fd, buf, 0, 4096, Number(start) + p * 4096);
      if (got !== 4096) throw new Error(`short read of /proc/${pid}/mem`);
      out.push(createHash('sha256').update(buf).digest('hex').slice(0, 16));
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export function range(first: number, count: number, step = 1): Uint32Array {
  const out: number[] = [];
  for (let i = first; i < first + count; i += step) out.push(i);
  return Uint32Array.from(out);
}


/** Node of each 4 KiB page of [start, start + pages*4096) in process `pid` (negative errno where not present). */
export function nodesOfRange(pid: number, start: bigint, pages: number): Int32Array {
  const status = new Int32Array(pages);
  for (let off = 0; off < pages; off += 4096) {
    const n = Math.min(4096, pages - off);
    const addrs = BigUint64Array.from({ length: n }, (_, k) => start + BigInt((off + k) * 4096));
    const st = new Int32Array(n);
    movePagesRaw(pid, addrs, null, st);
    status.set(st, off);
  }
  return status;
}

export const countNode = (a: Int32Array, node: number) => a.reduce((n, x) => n + (x === node ? 1 : 0), 0);

/** Moves every page of the range to `node` (64 per call), outside any backend: the test's own set-up. */
export function placeRange(pid: number, start: bigint, pages: number, node: number): void {
  for (let off = 0; off < pages; off += 64) {
    const n = Math.min(64, pages - off);
    const addrs = BigUint64Array.from({ length: n }, (_, k) => start + BigInt((off + k) * 4096));
    movePagesRaw(pid, addrs, new Int32Array(n).fill(node), new Int32Array(n));
  }
}

/** A manager process (manager-proc.ts) and the lines it printed. */
export class ManagerProcess {
  readonly events: Record<string, any>[] = [];
  private waiters: { pred: (e: Record<string, any>) => boolean; resolve: (e: Record<string, any>) => void }[] = [];
  exitCode: number | null = null;
  stderr = '';

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (!line.startsWith('MANAGER ')) return;
      const e = JSON.parse(line.slice('MANAGER '.length)) as Record<string, any>;
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
    proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    proc.once('exit', (code) => {
      this.exitCode = code ?? -1;
      const gone = { event: 'exit', code };
      this.waiters.forEach((w) => w.resolve(gone));
      this.waiters = [];
    });
  }

  static start(args: Record<string, unknown>): ManagerProcess {
    return new ManagerProcess(spawn(process.execPath, ['dist/test/guest/manager-proc.js', JSON.stringify(args)]));
  }

  /** The first event (already seen or to come) that matches; the process's exit if it ends first; rejects after `ms`. */
  next(pred: (e: Record<string, any>) => boolean, ms: number, from = 0): Promise<Record<string, any>> {
    const seen = this.events.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.exitCode !== null) return Promise.resolve({ event: 'exit', code: this.exitCode });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`manager: no matching event within ${ms} ms; stderr: ${this.stderr.slice(-500)}`)), ms);
      this.waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  windows(): Record<string, any>[] {
    return this.events.filter((e) => e.event === 'window');
  }
}
