/**
 * The manager during a libvirt live migration of its domain.
 *
 * Outgoing (this host is the source): QEMU announces each step of the
 * migration with a QMP `MIGRATION` event (libvirt turns the `events`
 * migration capability on; events reach every QMP monitor, ours included).
 * From `setup` on, the manager moves no page: QEMU tracks the guest's dirty
 * pages itself and a page moved meanwhile would be sent again, or fight its
 * copy. `failed` or `cancelled` opens the gate again; `completed` means the
 * guest now runs on the destination, so the manager's stop that follows (the
 * source QEMU quits) has the reason `migrated`.
 *
 * Incoming (this host is the destination): the hook launched the manager at
 * `started`, while QEMU still receives the guest (run state `inmigrate`). The
 * manager waits until the guest runs here before it opens the backend. The
 * destination QEMU announces the incoming migration with the same events
 * (`active`, `completed`): the watch ignores them while the guest is being
 * received (`receiving`), and a `completed` counts only after an outgoing
 * migration was seen in progress, so a late incoming `completed` cannot shut
 * the gate of a guest that has just arrived.
 *
 * The gate holds a page-migration batch before it starts (never in the middle
 * of one): the engine waits for its last batch before closing a window, so a
 * closed gate pauses the engine as a whole.
 */
import type { MemoryHost } from '../host/memory-host.js';
import type { QmpClient, QmpCommands } from '../../qmp/index.js';

/** QEMU's MigrationStatus values during which hmmv leaves the guest's pages where they are. */
const IN_PROGRESS = new Set(['setup', 'active', 'pre-switchover', 'device', 'postcopy-active', 'postcopy-paused', 'postcopy-recover', 'wait-unplug', 'cancelling']);
const FAILED = new Set(['failed', 'cancelled']);

export type OutgoingState = 'none' | 'in-progress' | 'completed' | 'failed';

export interface MigrationGate {
  /** True while page migrations are held. */
  readonly closed: boolean;
  /** Resolves when the gate is open (at once if it is), or when `signal` aborts. */
  waitOpen(signal?: AbortSignal): Promise<void>;
}

export class OutgoingMigrationWatch implements MigrationGate {
  private state: OutgoingState = 'none';
  private lastStatus: string | undefined;
  private waiters: (() => void)[] = [];
  private incoming = false;

  constructor(private readonly onChange: (status: string, state: OutgoingState) => void = () => {}) {}

  /** Subscribes to the client's MIGRATION events. */
  attach(client: { on(event: 'MIGRATION', listener: (event: unknown) => void): unknown }): this {
    client.on('MIGRATION', (event: unknown) => {
      const status = (event as { data?: { status?: unknown } } | null)?.data?.status;
      if (typeof status === 'string') this.observe(status);
    });
    return this;
  }

  /**
   * While true the guest is being received here: MIGRATION events are the
   * incoming migration's and are ignored. Either change forgets what was
   * seen (events that came before the manager knew the guest was incoming).
   */
  receiving(on: boolean): void {
    this.incoming = on;
    this.state = 'none';
    this.lastStatus = undefined;
    this.release();
  }

  /** One MIGRATION event's status. */
  observe(status: string): void {
    if (this.incoming) return;
    // An outgoing migration passes setup and active before it completes; a completed without them is an incoming one's.
    if (status === 'completed' && this.state !== 'in-progress') return;
    this.lastStatus = status;
    const before = this.state;
    if (IN_PROGRESS.has(status)) this.state = 'in-progress';
    else if (status === 'completed') this.state = 'completed';
    else if (FAILED.has(status)) this.state = 'failed';
    if (!this.closed) this.release();
    if (before !== this.state || IN_PROGRESS.has(status)) this.onChange(status, this.state);
  }

  get closed(): boolean {
    // A completed migration keeps the gate shut: the guest runs elsewhere now.
    return this.state === 'in-progress' || this.state === 'completed';
  }

  outgoing(): { state: OutgoingState; status?: string } {
    return this.lastStatus === undefined ? { state: this.state } : { state: this.state, status: this.lastStatus };
  }

  waitOpen(signal?: AbortSignal): Promise<void> {
    if (!this.closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** The host with its migrate() held while the gate is closed; everything else passes through. */
export function gatedHost(host: MemoryHost, gate: MigrationGate, stop: AbortSignal): MemoryHost {
  return new Proxy(host, {
    get(target, prop, receiver) {
      if (prop === 'migrate') {
        return async (pages: Uint32Array, tier: Parameters<MemoryHost['migrate']>[1], signal?: AbortSignal) => {
          if (gate.closed) await gate.waitOpen(signal ?? stop);
          if (signal?.aborted) throw signal.reason;
          if (stop.aborted) throw stop.reason;
          return target.migrate(pages, tier, signal);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Run states of a QEMU that receives a migration and does not run the guest yet. */
export const INCOMING_RUN_STATES = new Set(['inmigrate', 'prelaunch', 'restore-vm', 'finish-migrate']);

/**
 * Waits until QEMU runs the guest (an incoming migration finished). Polls
 * query-status every `pollMs` and wakes early on RESUME. Rejects on `signal`.
 */
export async function waitUntilGuestRuns(client: Pick<QmpClient, 'on' | 'off'>, qmp: Pick<QmpCommands, 'queryStatus'>, signal: AbortSignal, pollMs = 250): Promise<void> {
  let wake: () => void = () => {};
  const onResume = () => wake();
  client.on('RESUME', onResume);
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const s = await qmp.queryStatus();
      if (s.status === 'running') return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        wake = () => (clearTimeout(t), resolve());
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  } finally {
    client.off('RESUME', onResume);
  }
}
