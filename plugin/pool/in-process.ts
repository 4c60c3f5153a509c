/**
 * The pool without sockets: PoolCore driven on any Clock (the simulator's
 * virtual clock), with members that are engines in the same process. Every
 * `intervalMs` of that clock it reallocates and applies the quotas through
 * each member's setDramQuotaPages, exactly as the daemon and its managers do.
 */
import type { Clock } from '../util/clock.js';
import { PoolCore, type PoolCoreConfig } from './core.js';
import type { WindowFigures } from './curve.js';
import { reportFromWindow } from './report.js';
import type { PoolStateMessage } from './wire.js';

export interface PoolMember {
  domain: string;
  pageCount: number;
  pageSizeBytes: number;
  staticQuotaPages: number;
  minPages?: number;
  maxPages?: number;
  weight?: number;
  /** Pages the member's migrator moves per second. */
  migrationPagesPerSec: number;
  /** Applies a quota (the engine's setDramQuotaPages). */
  setDramQuotaPages(pages: number): void;
}

export interface MemberLink {
  /** Feed one engine window (wire it to the engine's onWindow). */
  report(window: WindowFigures): void;
  /** The member stops; its DRAM returns to the pool. */
  leave(): void;
}

export class InProcessPool {
  readonly core: PoolCore;
  private readonly members = new Map<string, PoolMember>();
  private readonly seqs = new Map<string, number>();
  /** Called after every reallocation with the state (tables, dashboards, tests). */
  onRebalance?: (state: PoolStateMessage) => void;

  constructor(
    config: PoolCoreConfig,
    private readonly clock: Clock,
  ) {
    this.core = new PoolCore(config, this.nowMs());
  }

  private nowMs(): number {
    return this.clock.now() / 1e6;
  }

  join(m: PoolMember): MemberLink {
    const r = this.core.join(
      {
        type: 'hello',
        protocol: 1,
        domain: m.domain,
        pageCount: m.pageCount,
        pageSizeBytes: m.pageSizeBytes,
        staticQuotaPages: m.staticQuotaPages,
        currentQuotaPages: m.staticQuotaPages,
        migrationPagesPerSec: m.migrationPagesPerSec,
        ...(m.minPages !== undefined ? { minPages: m.minPages } : {}),
        ...(m.maxPages !== undefined ? { maxPages: m.maxPages } : {}),
        ...(m.weight !== undefined ? { weight: m.weight } : {}),
      },
      this.nowMs(),
    );
    if (!r.ok) throw new Error(`${m.domain}: ${r.message}`);
    this.members.set(m.domain, m);
    for (const [d, q] of r.reclaimed) this.members.get(d)?.setDramQuotaPages(q);
    if (r.quotaPages !== m.staticQuotaPages) m.setDramQuotaPages(r.quotaPages);
    return {
      report: (w) => {
        const seq = (this.seqs.get(m.domain) ?? -1) + 1;
        this.seqs.set(m.domain, seq);
        this.core.report(m.domain, { type: 'report', seq, ...reportFromWindow(w) });
      },
      leave: () => {
        this.core.remove(m.domain);
        this.members.delete(m.domain);
      },
    };
  }

  /** One reallocation now; applies changed quotas. */
  rebalance(): Map<string, number> {
    const changed = this.core.rebalance(this.nowMs());
    for (const [d, q] of changed) this.members.get(d)?.setDramQuotaPages(q);
    this.onRebalance?.(this.core.state(this.nowMs()));
    return changed;
  }

  /** Reallocates every intervalMs of the clock until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const intervalNs = this.core.config.intervalMs * 1e6;
    for (;;) {
      try {
        await this.clock.sleep(intervalNs, signal);
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      this.rebalance();
    }
  }

  state(): PoolStateMessage {
    return this.core.state(this.nowMs());
  }
}
