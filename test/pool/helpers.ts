/** Shared helpers of the pool suites: a daemon in a temp dir, a raw ws peer. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startPoolDaemon, type PoolDaemon, type PoolDaemonOptions } from '../../plugin/pool/daemon.js';
import { defaultCoreConfig } from '../../plugin/pool/core.js';
import { wsUrlOf, type PoolEndpoint } from '../../plugin/pool/client.js';
import { parseServerMessage, type HelloMessage, type ReportMessage, type ServerMessage } from '../../plugin/pool/wire.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hmmv-pool-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function daemonOptions(socketPath: string, over: Partial<PoolDaemonOptions> = {}): PoolDaemonOptions {
  return {
    ...defaultCoreConfig(10_000),
    // The tests drive reallocation with tick().
    intervalMs: 1000,
    autoTick: false,
    settleMs: 0,
    hysteresisPages: 0,
    socketPath,
    maxMessageBytes: 64 * 1024,
    rateLimit: { messagesPerSec: 50, burst: 50 },
    ...over,
  };
}

export async function startDaemon(socketPath: string, over: Partial<PoolDaemonOptions> = {}): Promise<PoolDaemon> {
  return startPoolDaemon(daemonOptions(socketPath, over));
}

/** Waits until `cond` holds (bounded: a hang fails the test instead of blocking it). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Messages the daemon has taken in so far (received or refused): lets a test wait until a burst is through. */
export async function messagesHandled(d: PoolDaemon): Promise<number> {
  let n = 0;
  for (const name of ['hmmv_pool_messages_total', 'hmmv_pool_messages_rejected_total']) {
    const m = await d.metrics.registry.getSingleMetric(name)?.get();
    for (const v of m?.values ?? []) n += v.value;
  }
  return n;
}

/** A raw peer: sends anything, keeps every validated message it gets. */
export class Peer {
  readonly messages: ServerMessage[] = [];
  readonly invalid: string[] = [];
  closed = false;
  closeCode: number | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const p = parseServerMessage(data);
      if (p.ok) this.messages.push(p.msg);
      else this.invalid.push(p.message);
    });
    ws.on('close', (code: number) => {
      this.closed = true;
      this.closeCode = code;
    });
    ws.on('error', () => {});
  }

  static async open(endpoint: PoolEndpoint, headers?: Record<string, string>): Promise<Peer> {
    const { url, headers: h } = wsUrlOf(endpoint);
    const ws = new WebSocket(url, { headers: headers ?? h });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Peer(ws);
  }

  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** The next message of `type` after `from` messages (default: any new one). */
  async next<T extends ServerMessage['type']>(type: T, from = this.messages.length): Promise<Extract<ServerMessage, { type: T }>> {
    let found: ServerMessage | undefined;
    await until(() => (found = this.messages.slice(from).find((m) => m.type === type)) !== undefined, `a "${type}" message`);
    return found as Extract<ServerMessage, { type: T }>;
  }

  /** Sends `m` and waits for the reply of `type`. */
  async ask<T extends ServerMessage['type']>(m: unknown, type: T): Promise<Extract<ServerMessage, { type: T }>> {
    const from = this.messages.length;
    this.send(m);
    return this.next(type, from);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export const hello = (domain: string, over: Partial<HelloMessage> = {}): HelloMessage => ({
  type: 'hello',
  protocol: 1,
  domain,
  pageCount: 8000,
  pageSizeBytes: 4096,
  staticQuotaPages: 2500,
  currentQuotaPages: 2500,
  migrationPagesPerSec: 1e6,
  ...over,
});

/** A report whose hot set is `hot` pages at `rate` accesses/s each, the rest cold. */
export const report = (seq: number, hot: number, rate = 100, over: Partial<ReportMessage> = {}): ReportMessage => {
  const histogram = new Array<number>(256).fill(0);
  histogram[200] = hot;
  histogram[0] = 8000 - hot;
  return {
    type: 'report',
    seq,
    dramPages: 2500,
    nvmPages: 5500,
    quotaPages: 2500,
    hotSetPages: hot,
    curve: [[hot, rate], [8000 - hot, 0.5]],
    histogram,
    accessesPerSec: hot * rate,
    dramAccessesPerSec: Math.min(hot, 2500) * rate,
    migratedPagesPerSec: 10,
    ...over,
  };
};
