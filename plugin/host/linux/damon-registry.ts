/**
 * Claiming and giving back a kdamond slot (the rules are in damon-slots.ts):
 * reads the slots from DAMON's sysfs and the records from the run directory
 * (default /run/hmmv/damon, one kdamond-N.json per claimed slot), decides,
 * and writes, all under an flock(2) on RUN_DIR/lock, which the kernel drops
 * when its holder dies, even by SIGKILL. DAMON's own sysfs lock is a trylock
 * (EBUSY while another writer or kdamond holds it), so writes retry briefly.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { planClaim, planRestore, DEFAULT_SLOTS, type SlotRecord, type SlotState } from './damon-slots.js';
import { loadLibc } from './libc.js';
import { hostFiles, type KernelFiles } from './sysfs.js';

export const DAMON_ADMIN = '/sys/kernel/mm/damon/admin';
export const DEFAULT_DAMON_RUN_DIR = '/run/hmmv/damon';

export interface DamonRegistryOptions {
  /** Kernel files (a recorded tree in tests). */
  readonly files?: KernelFiles;
  /** Where records and the lock live (default /run/hmmv/damon). */
  readonly runDir?: string;
  /** Slots to make when hmmv makes them (default 32). */
  readonly slots?: number;
  /** How long to wait for another manager holding the lock (default 10 s). */
  readonly lockTimeoutMs?: number;
  /** How long a snapshot waits for other managers' requests (default 30 s; then that round has no new evidence). */
  readonly requestLockTimeoutMs?: number;
}

const BUSY_RETRIES = 14;
const BUSY_BACKOFF_MS = 20;

/** Writes a DAMON sysfs file, retrying while DAMON's trylock answers EBUSY (about 2 s in all). */
export async function writeDamon(files: KernelFiles, path: string, value: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      files.writeText(path, value);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EBUSY' || attempt >= BUSY_RETRIES) throw err;
      await sleep(BUSY_BACKOFF_MS * attempt);
    }
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * A kdamond's state: "on", "off", or undefined when there is no such kdamond.
 * DAMON's state_show takes its sysfs lock with a trylock and answers EBUSY
 * while any kdamond holds it (e.g. during another kdamond's regions update,
 * which holds it across callbacks), so an EBUSY read is retried (sync, ~1 s
 * in all) and, if it persists, the kdamond is taken as running: never mistake
 * a busy answer for "off".
 */
export function readKdamondState(files: KernelFiles, index: number): 'on' | 'off' | undefined {
  const path = `${DAMON_ADMIN}/kdamonds/${index}/state`;
  for (let attempt = 1; ; attempt++) {
    try {
      const s = files.readTextStrict(path);
      return s === 'on' ? 'on' : 'off';
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'EBUSY') return undefined;
      if (attempt >= 20) return 'on';
      Atomics.wait(pause, 0, 0, 5 * attempt);
    }
  }
}

/** The kdamond directories as sysfs shows them now. */
export function readSlots(files: KernelFiles = hostFiles): SlotState[] {
  const k = `${DAMON_ADMIN}/kdamonds`;
  const n = Number(files.readText(`${k}/nr_kdamonds`) ?? '0');
  const out: SlotState[] = [];
  for (let index = 0; index < n; index++) {
    const d = `${k}/${index}`;
    const contexts = Number(files.readText(`${d}/contexts/nr_contexts`) ?? '0');
    const pid = files.readText(`${d}/contexts/0/targets/0/pid_target`);
    const operations = contexts > 0 ? files.readText(`${d}/contexts/0/operations`) : undefined;
    out.push({
      index,
      running: readKdamondState(files, index) === 'on',
      configured: contexts > 0,
      ...(operations !== undefined ? { operations } : {}),
      ...(pid !== undefined && contexts > 0 && Number(files.readText(`${d}/contexts/0/targets/nr_targets`) ?? '0') > 0 ? { targetPid: Number(pid) } : {}),
    });
  }
  return out;
}

/** Start time of a process (clock ticks after boot, /proc/PID/stat field 22), or undefined when there is none. */
export function processStart(pid: number, files: KernelFiles = hostFiles): number | undefined {
  const stat = files.readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}

export function recordAlive(r: SlotRecord, files: KernelFiles = hostFiles): boolean {
  return processStart(r.managerPid, files) === r.managerStart;
}

const recordFile = (runDir: string, index: number) => join(runDir, `kdamond-${index}.json`);
const grownFile = (runDir: string) => join(runDir, 'grown.json');

export function readRecords(runDir: string): SlotRecord[] {
  let names: string[];
  try {
    names = readdirSync(runDir);
  } catch {
    return [];
  }
  const out: SlotRecord[] = [];
  for (const name of names) {
    if (!/^kdamond-\d+\.json$/.test(name)) continue;
    try {
      const r = JSON.parse(readFileSync(join(runDir, name), 'utf8')) as SlotRecord;
      if ([r.index, r.managerPid, r.managerStart, r.targetPid].every(Number.isInteger)) out.push(r);
      else rmSync(join(runDir, name), { force: true }); // not one of ours any more: unreadable
    } catch {
      rmSync(join(runDir, name), { force: true });
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

type FlockFn = (fd: number, op: number) => number;
let flock: FlockFn | undefined;
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

/** Another live manager held a registry lock for the whole wait (a loaded host, or a stuck holder). */
export class DamonLockTimeoutError extends Error {}

/** Runs `fn` holding a registry lock (flock on RUN_DIR/NAME, released on close or death). */
export async function withDamonLock<T>(runDir: string, timeoutMs: number, fn: () => Promise<T>, name = 'lock'): Promise<T> {
  try {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(`cannot create the DAMON registry ${runDir}: ${(err as Error).message} (the linux backend runs as root)`);
  }
  const libc = loadLibc();
  flock ??= libc.lib.func('int flock(int fd, int op)') as FlockFn;
  const lockPath = join(runDir, name);
  const fd = openSync(lockPath, 'a');
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (flock(fd, LOCK_EX | LOCK_NB) === 0) break;
      const errno = libc.errno();
      if (errno !== EWOULDBLOCK) throw new Error(`flock(${lockPath}) failed: errno ${errno}`);
      if (Date.now() > deadline) throw new DamonLockTimeoutError(`another hmmv manager held ${lockPath} for over ${timeoutMs} ms`);
      await sleep(20);
    }
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes a kdamond slot for monitoring `targetPid`: reclaims dead managers'
 * kdamonds, makes the slot set if it may and must, records the claim, and
 * calls `configure(index)` (which sets the kdamond up and turns it on). If
 * configure throws, the slot is emptied and the record dropped again.
 */
export interface SlotClaim {
  readonly index: number;
  /** What was reclaimed from managers that died without giving their kdamond back. */
  readonly reclaimed: readonly string[];
}

export async function claimSlot(targetPid: number, options: DamonRegistryOptions, configure: (index: number) => Promise<void>): Promise<SlotClaim> {
  const files = options.files ?? hostFiles;
  const runDir = options.runDir ?? DEFAULT_DAMON_RUN_DIR;
  return withDamonLock(runDir, options.lockTimeoutMs ?? 10_000, async () => {
    // Processes are always this machine's (a recorded kernel tree has none).
    const plan = planClaim(readSlots(files), readRecords(runDir), (r) => recordAlive(r), options.slots ?? DEFAULT_SLOTS);
    const reclaimed: string[] = [];
    for (const r of plan.reclaim) {
      const owner = readRecords(runDir).find((x) => x.index === r.index);
      reclaimed.push(`reclaimed kdamond ${r.index} (${r.running ? 'running' : 'stopped'}, target ${owner?.targetPid}) of manager ${owner?.managerPid}, which is gone`);
      await emptySlot(files, r.index, r.running);
    }
    for (const index of plan.dropRecords) rmSync(recordFile(runDir, index), { force: true });
    let index: number;
    if ('refuse' in plan) throw new Error(`DAMON: ${plan.refuse}`);
    if ('grow' in plan) {
      const before = readSlots(files).length;
      await writeDamon(files, `${DAMON_ADMIN}/kdamonds/nr_kdamonds`, String(plan.grow));
      if (readGrown(runDir) === undefined) writeFileSync(grownFile(runDir), JSON.stringify({ from: before, to: plan.grow }) + '\n');
      index = 0;
    } else index = plan.take;
    const me = processStart(process.pid);
    if (me === undefined) throw new Error(`cannot read /proc/${process.pid}/stat`);
    const record: SlotRecord = { index, managerPid: process.pid, managerStart: me, targetPid };
    writeFileSync(recordFile(runDir, index), JSON.stringify(record) + '\n');
    try {
      await configure(index);
    } catch (err) {
      await emptySlot(files, index, readSlots(files)[index]?.running ?? false).catch(() => undefined);
      rmSync(recordFile(runDir, index), { force: true });
      await restoreIfUnused(files, runDir).catch(() => undefined);
      throw err;
    }
    return { index, reclaimed };
  });
}

/** Gives a slot back: off, emptied, record dropped; the last one out restores nr_kdamonds as hmmv found it. */
export async function releaseSlot(index: number, options: DamonRegistryOptions): Promise<void> {
  const files = options.files ?? hostFiles;
  const runDir = options.runDir ?? DEFAULT_DAMON_RUN_DIR;
  await withDamonLock(runDir, options.lockTimeoutMs ?? 10_000, async () => {
    const mine = readRecords(runDir).find((r) => r.index === index && r.managerPid === process.pid);
    const slot = readSlots(files)[index];
    if (mine && slot && (!slot.configured || slot.targetPid === mine.targetPid)) await emptySlot(files, index, slot.running);
    if (mine) rmSync(recordFile(runDir, index), { force: true });
    await restoreIfUnused(files, runDir);
  });
}

/** When hmmv made the slot set and nothing uses any slot now: puts nr_kdamonds back as it was. */
async function restoreIfUnused(files: KernelFiles, runDir: string): Promise<void> {
  const live = readRecords(runDir).filter((r) => recordAlive(r)).length;
  const restore = planRestore(readSlots(files), live, readGrown(runDir));
  if (restore === undefined) return;
  await writeDamon(files, `${DAMON_ADMIN}/kdamonds/nr_kdamonds`, String(restore));
  rmSync(grownFile(runDir), { force: true });
}

async function emptySlot(files: KernelFiles, index: number, running: boolean): Promise<void> {
  const d = `${DAMON_ADMIN}/kdamonds/${index}`;
  if (running || readKdamondState(files, index) === 'on') {
    try {
      await writeDamon(files, `${d}/state`, 'off');
    } catch (err) {
      // It may have stopped meanwhile (its target exited): then "off" is refused, and that is fine.
      if (readKdamondState(files, index) !== 'off') throw err;
    }
  }
  await writeDamon(files, `${d}/contexts/nr_contexts`, '0');
}

function readGrown(runDir: string): number | undefined {
  try {
    const g = JSON.parse(readFileSync(grownFile(runDir), 'utf8')) as { from?: number };
    return Number.isInteger(g.from) ? g.from : undefined;
  } catch {
    return undefined;
  }
}
