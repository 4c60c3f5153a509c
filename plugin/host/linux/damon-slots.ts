/**
 * Which kdamond a manager may use (pure decisions over what sysfs and the
 * record files say; damon-registry.ts reads them and carries the decision out).
 *
 * DAMON's sysfs has a fixed set of kdamond directories: writing nr_kdamonds
 * removes them all and makes N fresh ones, and the kernel refuses that while
 * any kdamond runs. So managers cannot each add their own: hmmv makes a set of
 * slots once (when no kdamond runs and every existing one is unused), and each
 * manager then takes a free slot, records it, and gives it back on exit.
 *
 *   free      off, no contexts, no live record: anyone's to take
 *   ours      a record names it, and its target pid is still the record's
 *             (or it has no contexts yet): hmmv configured it
 *   foreign   anything else (another tool's DAMON_RECLAIM, a damo session,
 *             a kdamond someone configured and left off): never touched
 *
 * A record whose manager is dead (SIGKILL leaves no time to clean up: no such
 * pid, or a pid reused by a process that started later) is reclaimed at the
 * next start: its kdamond is turned off and emptied, if it is still ours.
 * Everything runs under one lock file, so two managers starting at once take
 * different slots.
 */

export interface SlotState {
  readonly index: number;
  /** state == "on". */
  readonly running: boolean;
  /** contexts/nr_contexts >= 1. */
  readonly configured: boolean;
  readonly operations?: string;
  /** contexts/0/targets/0/pid_target, where there is one. */
  readonly targetPid?: number;
}

/** What a manager writes next to its kdamond (one JSON file per slot). */
export interface SlotRecord {
  readonly index: number;
  readonly managerPid: number;
  /** The manager's start time (clock ticks after boot, /proc/PID/stat field 22): a reused pid has another. */
  readonly managerStart: number;
  readonly targetPid: number;
}

export type ClaimPlan = {
  /** Dead managers' kdamonds that are still ours: turn off (when running) and empty them. */
  readonly reclaim: readonly { readonly index: number; readonly running: boolean }[];
  /** Records to delete (dead managers', and stale ones naming a slot no longer ours). */
  readonly dropRecords: readonly number[];
} & ({ readonly take: number } | { readonly grow: number } | { readonly refuse: string });

/** Slots hmmv makes (one per linux-backed domain that may run at once), when it may. */
export const DEFAULT_SLOTS = 32;

/** Whether `slot` is still what `record` made it. */
export function stillOurs(slot: SlotState, record: SlotRecord): boolean {
  return !slot.configured || slot.targetPid === record.targetPid;
}

/**
 * Decides, for a manager about to monitor a process: what to reclaim, and
 * which slot to take (or to make `grow` slots first, or why it cannot).
 * `alive(record)` says whether the record's manager still runs.
 */
export function planClaim(slots: readonly SlotState[], records: readonly SlotRecord[], alive: (r: SlotRecord) => boolean, want = DEFAULT_SLOTS): ClaimPlan {
  const reclaim: { index: number; running: boolean }[] = [];
  const dropRecords: number[] = [];
  const liveRecord = new Map<number, SlotRecord>();
  const byIndex = new Map(slots.map((s) => [s.index, s]));
  const afterReclaim = new Map(byIndex);
  for (const r of records) {
    const slot = byIndex.get(r.index);
    if (!slot || !stillOurs(slot, r)) {
      dropRecords.push(r.index); // the slot was remade or taken over by someone else: leave it alone
      continue;
    }
    if (alive(r)) {
      liveRecord.set(r.index, r);
      continue;
    }
    if (slot.configured || slot.running) reclaim.push({ index: r.index, running: slot.running });
    dropRecords.push(r.index);
    afterReclaim.set(r.index, { index: r.index, running: false, configured: false });
  }
  const isFree = (s: SlotState) => !s.running && !s.configured && !liveRecord.has(s.index);
  const all = [...afterReclaim.values()];
  // Fewer slots than wanted and all unused: make the set now (later, running kdamonds forbid it).
  if (all.length < want && all.every(isFree)) return { reclaim, dropRecords, grow: want };
  const free = all.filter(isFree).sort((a, b) => a.index - b.index);
  if (free.length > 0) return { reclaim, dropRecords, take: free[0]!.index };
  const busy = all
    .filter((s) => !isFree(s))
    .map((s) => {
      const r = liveRecord.get(s.index);
      if (r) return `kdamond ${s.index}: hmmv manager ${r.managerPid} (target ${r.targetPid})`;
      return `kdamond ${s.index}: not hmmv's (${s.running ? 'on' : 'off'}, ${s.operations ?? 'no'} operations${s.targetPid !== undefined ? `, target ${s.targetPid}` : ''})`;
    });
  const why = all.some((s) => s.running)
    ? 'DAMON cannot add kdamonds while any runs'
    : 'hmmv remakes the kdamond set only when every kdamond is unused';
  if (all.length === 0) return { reclaim, dropRecords, refuse: 'no kdamond slots wanted (want is 0)' };
  return { reclaim, dropRecords, refuse: `no free kdamond among ${all.length} (${busy.join('; ')}); ${why}` };
}

/**
 * On a manager's exit, after it emptied its slot and dropped its record:
 * whether to put nr_kdamonds back to what it was before hmmv made its slots
 * (every slot unused, none running, no live record), and to how many.
 */
export function planRestore(slots: readonly SlotState[], liveRecords: number, grownFrom: number | undefined): number | undefined {
  if (grownFrom === undefined || liveRecords > 0) return undefined;
  if (slots.some((s) => s.running || s.configured)) return undefined;
  return grownFrom;
}
