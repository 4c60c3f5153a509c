/**
 * The pool's state machine, without sockets or timers: managers join, report
 * and leave; `rebalance(now)` runs the policy and returns the quotas to push.
 * The daemon drives it from a WebSocket server on the wall clock; the
 * simulated machine drives it in-process on its virtual clock.
 *
 * Times are milliseconds of whatever clock the driver uses.
 */
import { normalizeCurve, stallSlowdown, type CurveSegment } from './curve.js';
import { allocate, quotaMoveCostRate, stepQuotas, type PolicyName } from './policies.js';
import type { HelloMessage, PoolStateMessage, ReportMessage, VmView } from './wire.js';

export interface PoolCoreConfig {
  poolPages: number;
  pageSizeBytes: number;
  policy: PolicyName;
  /** Time between reallocations: a VM's step is what its migrator moves in this time. */
  intervalMs: number;
  hysteresisPages: number;
  graceMs: number;
  /** After start, quotas are held (not moved) this long so every manager can reconnect. */
  settleMs: number;
  latencyNs: { dram: number; nvm: number };
}

export const defaultCoreConfig = (poolPages: number): PoolCoreConfig => ({
  poolPages,
  pageSizeBytes: 4096,
  policy: 'utility',
  intervalMs: 1000,
  hysteresisPages: 256,
  graceMs: 10_000,
  settleMs: 10_000,
  latencyNs: { dram: 80, nvm: 300 },
});

interface VmEntry {
  hello: HelloMessage;
  quotaPages: number;
  targetPages: number;
  connected: boolean;
  disconnectedAtMs: number;
  lastSeq: number;
  reports: number;
  dramPages: number;
  /** The quota the manager last said it runs on (hello, then each report): it may fill that much until it reports less. */
  appliedPages: number;
  nvmPages: number;
  hotSetPages: number;
  curve: CurveSegment[];
  histogram: number[];
  accessesPerSec: number;
  dramAccessesPerSec: number;
  migratedPagesPerSec: number;
  slowdown: number | undefined;
}

/** A VM's bounds from its hello: max capped by its size, min by its max. */
function boundsOf(hello: HelloMessage): { lo: number; hi: number } {
  const hi = Math.max(0, Math.min(hello.maxPages ?? hello.pageCount, hello.pageCount));
  return { lo: Math.min(Math.max(0, hello.minPages ?? 0), hi), hi };
}

export type JoinResult =
  | {
      ok: true;
      quotaPages: number;
      rejoined: boolean;
      /** Other VMs whose quota was lowered to make room for this one's minimum (push these). */
      reclaimed: Map<string, number>;
    }
  | { ok: false; code: 'page-size'; message: string };

export class PoolCore {
  readonly config: PoolCoreConfig;
  private readonly vms = new Map<string, VmEntry>();
  private readonly startedAtMs: number;
  private epoch = 0;

  constructor(config: PoolCoreConfig, nowMs: number) {
    this.config = { ...config, latencyNs: { ...config.latencyNs } };
    this.startedAtMs = nowMs;
  }

  get domains(): string[] {
    return [...this.vms.keys()];
  }

  has(domain: string): boolean {
    return this.vms.has(domain);
  }

  quotaOf(domain: string): number | undefined {
    return this.vms.get(domain)?.quotaPages;
  }

  private freePages(): number {
    return Math.max(0, this.config.poolPages - this.allocatedPages());
  }

  /**
   * Finds `need` pages for `domain`: what is free first, then from the VMs
   * holding the most above their own minimum (their quotas are lowered here;
   * the caller pushes them). Returns what it got and whom it took from.
   */
  private makeRoom(domain: string, need: number): { got: number; from: Map<string, number> } {
    let got = Math.min(need, this.freePages());
    const from = new Map<string, number>();
    const donors = [...this.vms.entries()]
      .filter(([d]) => d !== domain)
      .map(([d, v]) => ({ d, v, spare: v.quotaPages - boundsOf(v.hello).lo }))
      .filter((x) => x.spare > 0)
      .sort((a, b) => b.spare - a.spare || a.d.localeCompare(b.d));
    for (const { d, v, spare } of donors) {
      if (got >= need) break;
      const take = Math.min(need - got, spare);
      v.quotaPages -= take;
      got += take;
      from.set(d, v.quotaPages);
    }
    return { got, from };
  }

  allocatedPages(): number {
    let s = 0;
    for (const v of this.vms.values()) s += v.quotaPages;
    return s;
  }

  /**
   * A manager joins, or joins again after a reconnect (of it or of the daemon).
   * A known VM keeps its quota; a new one keeps what it runs on now if the pool
   * has room, else what is free (the next rebalances move pages to it). Either
   * way the quota is never above the VM's max (a hello may lower it), and never
   * below its min while the others hold more than theirs: what is missing is
   * taken at once from the VMs with the most above their own minimum (they get
   * the lower quota pushed), so the quotas stay within bounds and within the pool.
   */
  join(hello: HelloMessage, _nowMs: number): JoinResult {
    if (hello.pageSizeBytes !== this.config.pageSizeBytes)
      return { ok: false, code: 'page-size', message: `page size ${hello.pageSizeBytes} differs from the pool's ${this.config.pageSizeBytes} bytes` };
    const { lo, hi } = boundsOf(hello);
    const known = this.vms.get(hello.domain);
    if (known) {
      known.hello = hello;
      known.connected = true;
      known.lastSeq = -1; // a new connection numbers its reports afresh (the manager may have restarted)
      known.appliedPages = hello.currentQuotaPages;
      const before = known.quotaPages;
      known.quotaPages = Math.min(known.quotaPages, hi);
      // A hello may also raise the minimum.
      const reclaimed = known.quotaPages < lo ? this.makeRoom(hello.domain, lo - known.quotaPages) : { got: 0, from: new Map<string, number>() };
      known.quotaPages += reclaimed.got;
      if (known.quotaPages !== before) this.epoch++;
      return { ok: true, quotaPages: known.quotaPages, rejoined: true, reclaimed: reclaimed.from };
    }
    let quota = Math.min(hello.currentQuotaPages, hi, this.freePages());
    let reclaimed = new Map<string, number>();
    if (quota < lo) {
      // Not yet in the table: makeRoom counts what is free, then takes the rest from the others.
      const room = this.makeRoom(hello.domain, lo);
      quota = room.got;
      reclaimed = room.from;
    }
    this.vms.set(hello.domain, {
      hello,
      quotaPages: quota,
      targetPages: quota,
      connected: true,
      disconnectedAtMs: 0,
      lastSeq: -1,
      reports: 0,
      dramPages: 0,
      appliedPages: hello.currentQuotaPages,
      nvmPages: 0,
      hotSetPages: 0,
      curve: [],
      histogram: [],
      accessesPerSec: 0,
      dramAccessesPerSec: 0,
      migratedPagesPerSec: 0,
      slowdown: undefined,
    });
    if (quota !== hello.currentQuotaPages || reclaimed.size > 0) this.epoch++;
    return { ok: true, quotaPages: quota, rejoined: false, reclaimed };
  }

  /** Stores a window report; stale ones (seq not newer) are ignored. Returns whether it was taken. */
  report(domain: string, r: ReportMessage): boolean {
    const v = this.vms.get(domain);
    if (!v) return false;
    if (r.seq <= v.lastSeq) return false;
    v.lastSeq = r.seq;
    v.reports++;
    v.dramPages = r.dramPages;
    v.appliedPages = r.quotaPages;
    v.nvmPages = r.nvmPages;
    v.hotSetPages = r.hotSetPages;
    v.curve = normalizeCurve(r.curve);
    v.histogram = r.histogram;
    v.accessesPerSec = r.accessesPerSec;
    v.dramAccessesPerSec = r.dramAccessesPerSec;
    v.migratedPagesPerSec = r.migratedPagesPerSec;
    v.slowdown = r.slowdown;
    return true;
  }

  /** The connection is gone: the VM's DRAM stays reserved for the grace period. */
  disconnect(domain: string, nowMs: number): void {
    const v = this.vms.get(domain);
    if (!v || !v.connected) return;
    v.connected = false;
    v.disconnectedAtMs = nowMs;
  }

  /** The manager said goodbye: its DRAM returns to the pool now. */
  remove(domain: string): boolean {
    return this.vms.delete(domain);
  }

  /** Drops VMs whose grace period has run out; returns their names. */
  expire(nowMs: number): string[] {
    const gone: string[] = [];
    for (const [d, v] of this.vms)
      if (!v.connected && nowMs - v.disconnectedAtMs >= this.config.graceMs) {
        this.vms.delete(d);
        gone.push(d);
      }
    return gone;
  }

  settling(nowMs: number): boolean {
    return nowMs - this.startedAtMs < this.config.settleMs;
  }

  /**
   * One reallocation: targets from the policy over connected VMs that have
   * reported (disconnected ones keep their quota until they expire), then one
   * bounded, hysteretic step towards them. Returns the VMs whose quota changed.
   */
  rebalance(nowMs: number): Map<string, number> {
    this.expire(nowMs);
    const changed = new Map<string, number>();
    if (this.settling(nowMs)) return changed;
    const movable = [...this.vms.entries()].filter(([, v]) => v.connected && v.reports > 0);
    if (movable.length === 0) return changed;
    const held = [...this.vms.values()].filter((v) => !movable.some(([, m]) => m === v)).reduce((s, v) => s + v.quotaPages, 0);
    const pool = Math.max(0, this.config.poolPages - held);
    const targets = allocate(
      this.config.policy,
      pool,
      movable.map(([, v]) => ({
        pageCount: v.hello.pageCount,
        hotSetPages: v.hotSetPages,
        minPages: v.hello.minPages ?? 0,
        maxPages: v.hello.maxPages ?? v.hello.pageCount,
        weight: v.hello.weight ?? 1,
        curve: v.curve,
        currentPages: v.quotaPages,
      })),
      { moveCostRate: quotaMoveCostRate(this.config.pageSizeBytes, this.config.latencyNs) },
    );
    const next = stepQuotas(
      pool,
      movable.map(([, v], i) => ({
        current: v.quotaPages,
        target: targets[i]!,
        maxStepPages: Math.max(1, Math.floor((v.hello.migrationPagesPerSec * this.config.intervalMs) / 1000)),
        // A shrinking VM holds its pages until it has demoted them and applied the lower quota:
        // growers get only what it no longer holds, so the managers' quotas in force never add up past the pool.
        dramPages: Math.max(v.dramPages, v.appliedPages),
      })),
      this.config.hysteresisPages,
    );
    movable.forEach(([d, v], i) => {
      v.targetPages = targets[i]!;
      if (next[i] !== v.quotaPages) {
        v.quotaPages = next[i]!;
        changed.set(d, v.quotaPages);
      }
    });
    if (changed.size > 0) this.epoch++;
    return changed;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  slowdownOf(v: VmEntry): number {
    if (v.slowdown !== undefined) return v.slowdown;
    return stallSlowdown(v.accessesPerSec, v.dramAccessesPerSec, this.config.latencyNs.dram, this.config.latencyNs.nvm);
  }

  /** Everything an operator looks at (dashboard, status, metrics). */
  state(nowMs: number): PoolStateMessage {
    const vms: VmView[] = [...this.vms.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([domain, v]) => ({
        domain,
        connected: v.connected,
        ...(v.connected ? {} : { graceLeftMs: Math.max(0, this.config.graceMs - (nowMs - v.disconnectedAtMs)) }),
        pageCount: v.hello.pageCount,
        quotaPages: v.quotaPages,
        targetPages: v.targetPages,
        staticQuotaPages: v.hello.staticQuotaPages,
        minPages: boundsOf(v.hello).lo,
        maxPages: boundsOf(v.hello).hi,
        weight: v.hello.weight ?? 1,
        dramPages: v.dramPages,
        nvmPages: v.nvmPages,
        hotSetPages: v.hotSetPages,
        histogram: v.histogram,
        accessesPerSec: v.accessesPerSec,
        dramAccessesPerSec: v.dramAccessesPerSec,
        migratedPagesPerSec: v.migratedPagesPerSec,
        slowdown: this.slowdownOf(v),
        reports: v.reports,
      }));
    return {
      type: 'state',
      timeMs: nowMs,
      poolPages: this.config.poolPages,
      pageSizeBytes: this.config.pageSizeBytes,
      policy: this.config.policy,
      allocatedPages: this.allocatedPages(),
      epoch: this.epoch,
      vms,
    };
  }
}
