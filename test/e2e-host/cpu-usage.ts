/**
 * Where the test-bed host's CPU goes, for the suite's wall time: CPU seconds
 * per kind of process (each nested domain's QEMU, each manager, the pool
 * daemon, libvirtd, kdamonds, this program), read from /proc. A process that
 * exited counts in its parent's reaped-children time: hooks and the QEMUs of
 * destroyed domains under libvirtd, `virsh` and `hmmv` commands under this
 * program. Totals from /proc/stat say how busy the host's CPUs were.
 *
 * Cost: one read of /proc/PID/stat and /proc/PID/cmdline per process.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface CpuSnapshot {
  /** All CPUs together, seconds since boot: busy (user + nice + system + irq + softirq + steal) and idle (idle + iowait). */
  host: { busy: number; idle: number };
  /** Per kind of process: CPU seconds of the live ones, plus what they reaped (`+children`). */
  byKind: Record<string, number>;
}

/** The kind a process is counted under, from its command name and command line ('other': not one we follow). */
export function kindOf(comm: string, argv: readonly string[]): string {
  const joined = argv.join(' ');
  if (comm.startsWith('kdamond')) return 'kdamond';
  if (comm.startsWith('qemu-system') || argv[0]?.includes('qemu-system')) {
    const name = /guest=([^,\s]+)/.exec(joined)?.[1];
    return `qemu ${name ?? '?'}`;
  }
  const managed = /\bmanage --domain (\S+)/.exec(joined);
  if (managed) return `manager ${managed[1]}`;
  if (/\bpool serve\b/.test(joined)) return 'pool daemon';
  if (comm === 'libvirtd' || comm === 'virtlogd') return comm;
  if (/e2e-host\/in-host\.js/.test(joined)) return 'in-host program';
  return 'other';
}

function readStat(pid: string): { comm: string; self: number; children: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    // fields after ')': state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    const n = (i: number) => Number(f[i] ?? 0) / TICKS_PER_SECOND;
    return { comm, self: n(11) + n(12), children: n(13) + n(14) };
  } catch {
    return undefined; // exited meanwhile
  }
}

export function cpuSnapshot(): CpuSnapshot {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  const byKind: Record<string, number> = {};
  const add = (kind: string, s: number) => {
    if (s > 0) byKind[kind] = Number(((byKind[kind] ?? 0) + s).toFixed(2));
  };
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    let argv: string[] = [];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      // exited meanwhile: its comm is enough
    }
    const kind = kindOf(st.comm, argv);
    add(kind, st.self);
    add(`${kind} +children`, st.children);
  }
  return {
    host: { busy: (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND, idle: (idle + iowait) / TICKS_PER_SECOND },
    byKind,
  };
}

/** What changed between two snapshots (kinds that used no CPU left out). */
export function cpuSince(before: CpuSnapshot, now: CpuSnapshot): CpuSnapshot {
  const byKind: Record<string, number> = {};
  for (const [k, v] of Object.entries(now.byKind)) {
    const d = v - (before.byKind[k] ?? 0);
    if (d > 0.005) byKind[k] = Number(d.toFixed(2));
  }
  return { host: { busy: Number((now.host.busy - before.host.busy).toFixed(2)), idle: Number((now.host.idle - before.host.idle).toFixed(2)) }, byKind };
}
