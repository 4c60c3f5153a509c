/**
 * The manager's side of the pool link. Joins with `hello`, sends a report per
 * window, applies the quotas the daemon pushes (through `apply`, i.e. the
 * engine's setDramQuotaPages, whose planner demotes first when it shrinks).
 *
 * While the daemon is away the client reconnects with exponential backoff;
 * if it stays away longer than `fallbackAfterMs` (the daemon's grace period,
 * after which the daemon gives the DRAM away) the VM falls back to its static
 * quota from the domain metadata. On reconnect, `hello` carries the quota in
 * force, so a restarted daemon rebuilds its state from its managers.
 *
 * Backoff and fallback run on the given Clock (tests use a virtual one); only
 * the I/O guards (handshake, close) use the wall clock.
 */
import WebSocket from 'ws';
import { wallClock, type Clock } from '../util/clock.js';
import { after, type CancelTimer } from '../util/clock-timer.js';
import { parseServerMessage, PROTOCOL_VERSION, type HelloMessage, type ReportMessage, type ServerMessage } from './wire.js';

export type PoolEndpoint = { socketPath: string } | { url: string; token: string };

export interface PoolClientOptions {
  endpoint: PoolEndpoint;
  hello: Omit<HelloMessage, 'type' | 'protocol' | 'currentQuotaPages'>;
  /**
   * Applies a DRAM quota: one the pool pushed (`from` 'pool', on every welcome
   * and quota message), or the static one when the pool stays away (`from` 'static').
   */
  apply: (quotaPages: number, from: 'pool' | 'static') => void;
  /** The quota in force as the manager applies it (clamped); `hello` carries it. Default: the last one applied. */
  current?: () => number;
  clock?: Clock;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  fallbackAfterMs?: number;
  log?: (msg: string) => void;
}

/**
 * Reconnect attempts back off from 200 ms, doubling, to at most this (jittered
 * +-25%): a failed attempt on a Unix socket costs next to nothing, and a
 * restarted daemon's settle period (10 s) must see every manager back.
 */
export const DEFAULT_MAX_BACKOFF_MS = 2000;

export function wsUrlOf(endpoint: PoolEndpoint): { url: string; headers: Record<string, string> } {
  if ('socketPath' in endpoint) return { url: `ws+unix://${endpoint.socketPath}:/`, headers: {} };
  return { url: endpoint.url, headers: { authorization: `Bearer ${endpoint.token}` } };
}

export class PoolClient {
  private ws: WebSocket | undefined;
  private seq = 0;
  private quota: number;
  private joined = false;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: CancelTimer | undefined;
  private fallbackTimer: CancelTimer | undefined;
  private readonly clock: Clock;
  private lastReport: Omit<ReportMessage, 'type' | 'seq'> | undefined;
  /** Errors the daemon replied with (the last few), for logs and tests. */
  readonly errors: string[] = [];
  /** Times the link came up (1 = first connect). */
  connects = 0;
  /** The daemon's grace period (from its welcome): how long it keeps our DRAM when we vanish. */
  private daemonGraceMs: number | undefined;
  /** Whether this outage was logged already (one line per outage, not one per retry). */
  private outageLogged = false;
  private readonly listeners = new Set<(m: ServerMessage) => void>();

  constructor(private readonly opts: PoolClientOptions) {
    this.quota = opts.hello.staticQuotaPages;
    this.backoffMs = opts.initialBackoffMs ?? 200;
    this.clock = opts.clock ?? wallClock;
  }

  /** The quota in force (the pool's, or the static one while the pool is away). */
  get quotaPages(): number {
    return this.quota;
  }

  get connected(): boolean {
    return this.joined;
  }

  start(): void {
    this.connect();
  }

  /** Calls `fn` with every message from the daemon (tests, status). */
  onMessage(fn: (m: ServerMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Sends one window's report (kept and sent after the next hello if the link is down). */
  report(body: Omit<ReportMessage, 'type' | 'seq'>): void {
    this.lastReport = body;
    if (this.joined) this.sendReport(body);
  }

  /** Says goodbye (the daemon frees the DRAM at once) and stops reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    this.reconnectTimer?.();
    this.fallbackTimer?.();
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN && this.joined) ws.send(JSON.stringify({ type: 'bye' }));
    await new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once('close', () => resolve());
      ws.close();
      setTimeout(() => (ws.terminate(), resolve()), 2000).unref();
    });
  }

  private setQuota(q: number, from: 'pool' | 'static', why: string): void {
    if (q !== this.quota) this.opts.log?.(`quota ${this.quota} -> ${q} pages (${why})`);
    this.quota = q;
    this.opts.apply(q, from);
  }

  private fallBack(why: string, afterMs: number): void {
    this.fallbackTimer = after(this.clock, afterMs, () => this.setQuota(this.opts.hello.staticQuotaPages, 'static', why));
  }

  private sendReport(body: Omit<ReportMessage, 'type' | 'seq'>): void {
    this.ws?.send(JSON.stringify({ type: 'report', seq: this.seq++, ...body }));
  }

  private connect(): void {
    if (this.closed) return;
    const { url, headers } = wsUrlOf(this.opts.endpoint);
    const ws = new WebSocket(url, { headers, handshakeTimeout: 5000 });
    this.ws = ws;
    ws.on('open', () => {
      this.connects++;
      this.backoffMs = this.opts.initialBackoffMs ?? 200;
      const hello: HelloMessage = { type: 'hello', protocol: PROTOCOL_VERSION, ...this.opts.hello, currentQuotaPages: this.opts.current?.() ?? this.quota };
      ws.send(JSON.stringify(hello));
    });
    ws.on('message', (data: Buffer) => {
      const parsed = parseServerMessage(data);
      if (!parsed.ok) {
        this.opts.log?.(`pool daemon sent a bad message: ${parsed.message}`);
        return;
      }
      const m = parsed.msg;
      if (m.type === 'welcome') {
        this.joined = true;
        this.daemonGraceMs = m.graceMs;
        if (this.outageLogged) this.opts.log?.(`pool daemon reached again (connect #${this.connects})`);
        this.outageLogged = false;
        this.fallbackTimer?.();
        this.fallbackTimer = undefined;
        this.setQuota(m.quotaPages, 'pool', 'pool welcome');
        if (this.lastReport) this.sendReport(this.lastReport);
      } else if (m.type === 'quota') {
        if (this.joined) this.setQuota(m.quotaPages, 'pool', `pool epoch ${m.epoch}`);
      } else if (m.type === 'error') {
        this.errors.push(`${m.code}: ${m.message}`);
        if (this.errors.length > 20) this.errors.shift();
        this.opts.log?.(`pool daemon refused a message: ${m.code}: ${m.message}`);
      }
      for (const fn of this.listeners) fn(m);
    });
    ws.on('error', () => {}); // 'close' follows and schedules the retry
    ws.on('close', (code: number) => {
      this.joined = false;
      if (this.ws === ws) this.ws = undefined;
      if (code === 4000) {
        // Another manager took over this domain: fighting back would make the two take turns.
        this.opts.log?.('another manager now manages this domain; not reconnecting');
        this.closed = true;
        this.fallbackTimer?.();
        this.fallBack('replaced, static quota', 0);
      }
      if (this.closed) return;
      const fallbackMs = this.opts.fallbackAfterMs ?? this.daemonGraceMs ?? 10_000;
      if (!this.outageLogged) {
        this.outageLogged = true;
        this.opts.log?.(
          `pool daemon at ${wsUrlOf(this.opts.endpoint).url} is not answering: keeping quota ${this.quota} pages, static quota ${this.opts.hello.staticQuotaPages} after ${fallbackMs} ms; retrying with backoff`,
        );
      }
      if (!this.fallbackTimer) this.fallBack('pool away, static quota', fallbackMs);
      const delay = this.backoffMs * (0.75 + Math.random() * 0.5);
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
      this.reconnectTimer = after(this.clock, delay, () => this.connect());
    });
  }
}

/** One request-reply exchange (status): connects, sends, waits for the first `state`. */
export async function fetchPoolState(endpoint: PoolEndpoint, timeoutMs = 5000): Promise<Extract<ServerMessage, { type: 'state' }>> {
  const { url, headers } = wsUrlOf(endpoint);
  const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pool daemon did not answer within ${timeoutMs} ms`)), timeoutMs);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'status' })));
      ws.on('error', (err) => (clearTimeout(timer), reject(new Error(`cannot reach the pool daemon at ${url}: ${err.message}`))));
      ws.on('message', (data: Buffer) => {
        const p = parseServerMessage(data);
        if (p.ok && p.msg.type === 'state') {
          clearTimeout(timer);
          resolve(p.msg);
        } else if (p.ok && p.msg.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`pool daemon refused: ${p.msg.message}`));
        }
      });
    });
  } finally {
    ws.terminate();
  }
}
