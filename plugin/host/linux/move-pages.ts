/**
 * move_pages(2) through koffi: the syscall (279 on x86-64) called from libc's
 * syscall(), no libnuma needed. Pages travel as a BigUint64Array of addresses
 * in the target process; nodes and status as Int32Arrays the kernel reads and
 * writes in place (koffi passes typed arrays by pointer).
 */
import { loadLibc } from './libc.js';

const SYS_MOVE_PAGES = 279; // x86-64
export const MPOL_MF_MOVE = 1 << 1;
export const MPOL_MF_MOVE_ALL = 1 << 2;

/** Linux errno numbers that move_pages puts in per-page status. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  E2BIG: 7,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOSYS: 38,
  ESRCH: 3,
  EAGAIN: 11,
} as const;

const STATUS_REASONS: Record<number, string> = {
  [Errno.ENOENT]: 'not present (never touched, or swapped out)',
  [Errno.EFAULT]: 'not mapped, or the shared zero page',
  [Errno.EBUSY]: 'busy (page locked or under I/O); try again later',
  [Errno.EACCES]: 'mapped by several processes (moving it needs MPOL_MF_MOVE_ALL and CAP_SYS_NICE)',
  [Errno.EIO]: 'could not be written back before moving',
  [Errno.ENOMEM]: 'target node out of memory',
  [Errno.EINVAL]: 'cannot be migrated (dirty page of a file system without migration support)',
  [Errno.E2BIG]: 'part of a huge page that could not be moved',
  [Errno.ENODEV]: 'target node not online',
};

export function statusReason(status: number): string {
  const errno = -status;
  return STATUS_REASONS[errno] ?? `error ${errno}`;
}

type MovePagesFn = (
  nr: number,
  pid: number,
  count: number,
  pages: BigUint64Array,
  nodes: Int32Array | null,
  status: Int32Array,
  flags: number,
) => number;

interface Binding {
  movePages: MovePagesFn;
  errno: () => number;
}

let binding: Binding | undefined;

function load(): Binding {
  if (binding) return binding;
  const libc = loadLibc();
  // syscall() is variadic in C, but glibc implements it in assembly that only
  // moves registers, so a fixed prototype is safe on x86-64.
  const fn = libc.lib.func('long syscall(long nr, int pid, unsigned long count, void *pages, void *nodes, void *status, int flags)');
  binding = { movePages: fn as MovePagesFn, errno: libc.errno };
  return binding;
}

export class MovePagesError extends Error {
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

/**
 * One move_pages call. With `nodes` null it only queries: status[i] is the
 * node of page i, or a negative errno. With nodes, the kernel moves page i to
 * nodes[i] and status[i] is the node it is on afterwards, or a negative errno.
 * Returns the syscall's result (number of pages not moved, >= 0); throws for
 * whole-call errors (ESRCH no such process, EPERM, ENODEV, ENOSYS, ...).
 */
export function movePagesRaw(pid: number, pages: BigUint64Array, nodes: Int32Array | null, status: Int32Array, flags = MPOL_MF_MOVE): number {
  if (nodes && nodes.length < pages.length) throw new Error('move_pages: nodes array shorter than pages');
  if (status.length < pages.length) throw new Error('move_pages: status array shorter than pages');
  const b = load();
  const rc = b.movePages(SYS_MOVE_PAGES, pid, pages.length, pages, nodes, status, flags);
  if (rc < 0) {
    const errno = b.errno();
    const what: Record<number, string> = {
      [Errno.ESRCH]: `no process ${pid}`,
      [Errno.EPERM]: `not permitted to move pages of process ${pid} (needs CAP_SYS_NICE, or the same user)`,
      [Errno.EACCES]: `not permitted to move pages of process ${pid} to that node (cpuset)`,
      [Errno.ENODEV]: 'target NUMA node is not online',
      [Errno.ENOSYS]: 'move_pages is not available (kernel built without CONFIG_NUMA / CONFIG_MIGRATION)',
      [Errno.EINVAL]: 'invalid arguments',
      [Errno.ENOMEM]: 'kernel out of memory',
      [Errno.E2BIG]: 'too many pages',
    };
    throw new MovePagesError(`move_pages(pid ${pid}, ${pages.length} pages) failed: ${what[errno] ?? `errno ${errno}`}`, errno);
  }
  return rc;
}
