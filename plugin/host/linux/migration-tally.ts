/**
 * Bookkeeping of one migrate() call over move_pages(2) statuses (pure: the
 * statuses come in, outcomes and counts come out; linux-host.ts makes the
 * calls). Each request entry stands for `pagesOf(entry)` pages: 1 for a 4 KiB
 * page, 512 for an entry naming a 2 MiB huge page (one address moves it whole),
 * and moved/busy/failed/bytesCopied count pages, as the memory-host interface
 * says.
 *
 * Statuses: the node the page is on, or a negative errno. Before moving, a
 * query (nodes = NULL) sorts entries into already there / busy / absent
 * (nothing to move: -ENOENT, never touched or swapped out; -EFAULT, the
 * shared zero page of a page read but never written, since every address
 * asked about lies in a guest-RAM mapping) / failed / to move. After moving, the status is the node the page is on now; -EBUSY and
 * -EAGAIN are busy, but the kernel also answers -EBUSY for a huge page it did
 * move (the test bed saw it), so busy entries are re-queried and those found
 * on the target count as moved.
 */
import { MigrationOutcome, type MigrationResult } from '../memory-host.js';
import { Errno, statusReason } from './move-pages.js';

const PAGE = 4096;

/** A status that says no private page stands behind the address: nothing to move. */
const isAbsent = (status: number): boolean => status === -Errno.ENOENT || status === -Errno.EFAULT;

export class MigrationTally {
  readonly outcome: Uint8Array;
  readonly failures: { index: number; reason: string }[] = [];
  moved = 0;
  busy = 0;
  failed = 0;
  absent = 0;
  pauseNs = 0;
  maxPauseNs = 0;

  constructor(
    entries: number,
    private readonly pagesOf: (entry: number) => number = () => 1,
  ) {
    this.outcome = new Uint8Array(entries);
  }

  private mark(entry: number, outcome: MigrationOutcome, reason?: string): void {
    this.outcome[entry] = outcome;
    const pages = this.pagesOf(entry);
    if (outcome === MigrationOutcome.Moved) this.moved += pages;
    else if (outcome === MigrationOutcome.Busy) this.busy += pages;
    else if (outcome === MigrationOutcome.Absent) this.absent += pages;
    else if (outcome === MigrationOutcome.Failed) {
      this.failed += pages;
      this.failures.push({ index: entry, reason: reason ?? 'failed' });
    }
  }

  /** Entries [first, first + n) were aborted before their move: busy (they stay where they are). */
  abort(first: number, n: number): void {
    for (let e = first; e < first + n; e++) this.mark(e, MigrationOutcome.Busy);
  }

  /**
   * The query before moving: status[k] is the node (or -errno) of entry
   * entries[k]. Returns the entries that need a move, in order.
   */
  fromQuery(entries: ArrayLike<number>, status: Int32Array, targetNodes: readonly number[]): number[] {
    const toMove: number[] = [];
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      const s = status[k]!;
      if (s >= 0 && targetNodes.includes(s)) this.mark(e, MigrationOutcome.AlreadyThere);
      else if (s === -Errno.EBUSY) this.mark(e, MigrationOutcome.Busy);
      else if (isAbsent(s)) this.mark(e, MigrationOutcome.Absent);
      else if (s < 0) this.mark(e, MigrationOutcome.Failed, statusReason(s));
      else toMove.push(e);
    }
    return toMove;
  }

  /**
   * One move call over `entries` to `node` that took `callNs`: marks the moved
   * and failed ones and returns the busy ones, left unmarked for fromRequery.
   * The pause bound: every page moved by the call counts the whole call.
   */
  fromMove(entries: readonly number[], status: Int32Array, node: number, callNs: number): number[] {
    const busy: number[] = [];
    const movedBefore = this.moved;
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      const s = status[k]!;
      if (s === node) this.mark(e, MigrationOutcome.Moved);
      else if (s === -Errno.EBUSY || s === -Errno.EAGAIN) busy.push(e);
      else if (isAbsent(s)) this.mark(e, MigrationOutcome.Absent);
      else this.mark(e, MigrationOutcome.Failed, s >= 0 ? `stayed on node ${s}` : statusReason(s));
    }
    this.notePause(this.moved - movedBefore, callNs);
    return busy;
  }

  /** Busy entries re-queried: status[k] for busy[k]. On a target node: moved (by the call before); else busy. */
  fromRequery(busy: readonly number[], status: Int32Array, targetNodes: readonly number[], callNs: number): void {
    const movedBefore = this.moved;
    for (let k = 0; k < busy.length; k++) {
      const s = status[k]!;
      this.mark(busy[k]!, s >= 0 && targetNodes.includes(s) ? MigrationOutcome.Moved : MigrationOutcome.Busy);
    }
    this.notePause(this.moved - movedBefore, callNs);
  }

  /** Marks one entry directly (e.g. a huge page the kernel split, moved the rest of by 4 KiB pages). */
  set(entry: number, outcome: MigrationOutcome, reason?: string): void {
    this.mark(entry, outcome, reason);
  }

  private notePause(pagesMoved: number, callNs: number): void {
    if (pagesMoved === 0) return;
    this.pauseNs += callNs * pagesMoved;
    this.maxPauseNs = Math.max(this.maxPauseNs, callNs);
  }

  result(): MigrationResult {
    const { outcome, failures, moved, busy, failed, absent, pauseNs, maxPauseNs } = this;
    return { outcome, failures, moved, busy, failed, absent, bytesCopied: moved * PAGE, recopies: 0, pauseNs, maxPauseNs };
  }
}
