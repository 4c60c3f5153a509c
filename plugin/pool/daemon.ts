/**
 * The pool daemon: one per host. Serves, on one listener (a Unix socket with
 * mode 0600 by default, or loopback TCP with a token):
 *   - the WebSocket protocol (managers, dashboards, `hmmv status`),
 *   - the dashboard page (GET /), and Prometheus metrics (GET /metrics).
 * The pool logic itself is PoolCore; this file is transport, validation,
 * rate limiting and timers.
 *
 * Pool time (reallocation interval, grace and settle periods, rate limits)
 * runs on the given Clock, so tests drive it with a virtual one; only the
 * coalescing of dashboard pushes (I/O pacing) uses the wall clock.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { PoolCore, type PoolCoreConfig } from './core.js';
import { createPoolMetrics, type PoolMetrics } from './metrics.js';
import { dashboardAsset } from './dashboard-assets.js';
import { TokenBucket } from './rate-limit.js';
import { wallClock, type Clock } from '../util/clock.js';
import { every } from '../util/clock-timer.js';
import { parseClientMessage, PROTOCOL_VERSION, type ClientMessage, type ErrorCode, type ServerMessage } from './wire.js';

export interface PoolDaemonOptions extends PoolCoreConfig {
  /** Unix socket path (mode 0600): managers, `hmmv status`, metrics, no token. */
  socketPath: string;
  /** Also listen on loopback TCP, with a token (the dashboard in a browser; managers may use it too). */
  tcp?: { host: string; port: number; token: string };
  maxMessageBytes: number;
  rateLimit: { messagesPerSec: number; burst: number };
  /** The pool's clock (default the wall clock; tests and the simulator pass a virtual one). */
  clock?: Clock;
  /** Serve this pool instead of a new one (an in-process pool, e.g. a simulated host's); implies autoTick false. */
  core?: PoolCore;
  /** Reallocate every intervalMs on a timer (default); tests turn it off and call tick(). */
  autoTick?: boolean;
  log?: (msg: string) => void;
}

export interface PoolDaemon {
  readonly core: PoolCore;
  readonly metrics: PoolMetrics;
  /** The Unix socket. */
  readonly address: { socketPath: string };
  /** The TCP listener, if any. */
  readonly tcpAddress?: { url: string; token: string };
  /** Runs one reallocation now (the timer does this every intervalMs). */
  tick(): void;
  /** Pushes the state to dashboards now (after the core changed outside the daemon). */
  publishState(): void;
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  domain?: string;
  watcher: boolean;
  bucket: TokenBucket;
  lastLimitReplyMs: number;
}

/** Refuses to start over a live daemon; removes a stale socket file. */
async function claimSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another pool daemon is listening on ${path}`);
  unlinkSync(path);
}

function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startPoolDaemon(opts: PoolDaemonOptions): Promise<PoolDaemon> {
  const clock = opts.clock ?? wallClock;
  const nowMs = (): number => clock.now() / 1e6;
  const log = opts.log ?? (() => {});
  if (opts.tcp && !['127.0.0.1', '::1', 'localhost'].includes(opts.tcp.host))
    throw new Error(`pool TCP listener must be on loopback (127.0.0.1, ::1), not ${opts.tcp.host}`);
  if (opts.tcp && opts.tcp.token.length < 16) throw new Error('pool TCP listener needs a token of at least 16 characters');

  const core = opts.core ?? new PoolCore(opts, nowMs());
  const metrics = createPoolMetrics(() => core.state(nowMs()));
  const conns = new Set<Conn>();
  const byDomain = new Map<string, Conn>();

  const send = (c: Conn, m: ServerMessage): void => {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(m));
  };
  const refuse = (c: Conn, code: ErrorCode, message: string): void => {
    metrics.messageRejected(code);
    send(c, { type: 'error', code, message });
  };
  let broadcastPending: NodeJS.Timeout | undefined;
  const broadcastState = (): void => {
    if (broadcastPending) return;
    // Coalesce bursts of reports into one push (at most ~10 per second).
    broadcastPending = setTimeout(() => {
      broadcastPending = undefined;
      const s = core.state(nowMs());
      for (const c of conns) if (c.watcher) send(c, s);
    }, 100);
  };
  const pushQuotas = (changed: Map<string, number>): void => {
    if (changed.size === 0) return;
    metrics.quotaChanged(changed.size);
    for (const [d, q] of changed) {
      const c = byDomain.get(d);
      if (c) send(c, { type: 'quota', quotaPages: q, epoch: core.currentEpoch });
    }
    broadcastState();
  };

  /** Unix socket: its 0600 mode is the check. TCP: the token, as a header, a query parameter or the dashboard's cookie. */
  const authorized = (req: IncomingMessage, token: string | undefined): boolean => {
    if (token === undefined) return true;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && tokenMatches(auth.slice(7), token)) return true;
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (tokenMatches(q, token)) return true;
    const cookie = /(?:^|;\s*)hmmv_pool_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return tokenMatches(cookie ? decodeURIComponent(cookie) : undefined, token);
  };

  const onMessage = (c: Conn, data: Buffer): void => {
    const now = nowMs();
    if (!c.bucket.take()) {
      metrics.messageRejected('rate-limited');
      // One reply per second at most, so a flood does not turn into a flood back.
      if (now - c.lastLimitReplyMs >= 1000) {
        c.lastLimitReplyMs = now;
        send(c, { type: 'error', code: 'rate-limited', message: `more than ${opts.rateLimit.messagesPerSec} messages/s (burst ${opts.rateLimit.burst}): messages are being dropped` });
      }
      return;
    }
    const parsed = parseClientMessage(data, opts.maxMessageBytes);
    if (!parsed.ok) return refuse(c, parsed.code, parsed.message);
    metrics.messageReceived(parsed.msg.type);
    handle(c, parsed.msg, now);
  };

  const handle = (c: Conn, m: ClientMessage, now: number): void => {
    switch (m.type) {
      case 'hello': {
        if (c.domain !== undefined) return refuse(c, 'already-joined', `this connection already manages "${c.domain}"`);
        const r = core.join(m, now);
        if (!r.ok) return refuse(c, r.code, r.message);
        const old = byDomain.get(m.domain);
        if (old && old !== c) {
          old.domain = undefined;
          send(old, { type: 'error', code: 'replaced', message: `another connection now manages "${m.domain}"` });
          old.ws.close(4000, 'replaced');
        }
        c.domain = m.domain;
        byDomain.set(m.domain, c);
        log(`${r.rejoined ? 'rejoined' : 'joined'}: ${m.domain} quota ${r.quotaPages} pages${r.reclaimed.size > 0 ? ` (its minimum taken from ${[...r.reclaimed.keys()].join(', ')})` : ''}`);
        pushQuotas(r.reclaimed);
        send(c, { type: 'welcome', protocol: PROTOCOL_VERSION, poolPages: core.config.poolPages, policy: core.config.policy, quotaPages: r.quotaPages, graceMs: core.config.graceMs });
        broadcastState();
        return;
      }
      case 'report':
        if (c.domain === undefined) return refuse(c, 'not-joined', 'send "hello" before "report"');
        core.report(c.domain, m);
        broadcastState();
        return;
      case 'bye':
        if (c.domain === undefined) return refuse(c, 'not-joined', 'send "hello" before "bye"');
        core.remove(c.domain);
        byDomain.delete(c.domain);
        log(`left: ${c.domain}`);
        c.domain = undefined;
        broadcastState();
        return;
      case 'subscribe':
        c.watcher = true;
        send(c, core.state(now));
        return;
      case 'status':
        send(c, core.state(now));
        return;
    }
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: Math.max(opts.maxMessageBytes * 4, 1 << 20) });
  wss.on('connection', (ws: WebSocket) => {
    const c: Conn = { ws, watcher: false, bucket: new TokenBucket(opts.rateLimit.messagesPerSec, opts.rateLimit.burst, clock), lastLimitReplyMs: -Infinity };
    conns.add(c);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        onMessage(c, isBinary ? data : Buffer.from(data));
      } catch (err) {
        refuse(c, 'internal', `internal error: ${(err as Error).message}`);
      }
    });
    ws.on('error', () => {}); // close follows
    ws.on('close', () => {
      conns.delete(c);
      if (c.domain !== undefined && byDomain.get(c.domain) === c) {
        byDomain.delete(c.domain);
        core.disconnect(c.domain, nowMs());
        log(`disconnected: ${c.domain} (DRAM kept for ${opts.graceMs} ms)`);
        broadcastState();
      }
    });
  });

  const makeServer = (token: string | undefined): Server => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      void (async () => {
        if (!authorized(req, token)) {
          res.writeHead(401, { 'content-type': 'text/plain' }).end('token required\n');
          return;
        }
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        if (req.method !== 'GET') {
          res.writeHead(405).end();
        } else if (path === '/metrics') {
          const body = await metrics.registry.metrics();
          res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
        } else {
          const asset = dashboardAsset(path);
          const headers: Record<string, string> = { 'content-type': asset?.type ?? '', 'cache-control': 'no-store' };
          // The dashboard page got the token in its URL; its scripts and WebSocket carry it as a cookie.
          if (token !== undefined) headers['set-cookie'] = `hmmv_pool_token=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
          if (asset) res.writeHead(200, headers).end(asset.body);
          else res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
        }
      })().catch((err: Error) => res.writeHead(500).end(err.message));
    });
    server.on('upgrade', (req, socket, head) => {
      if (!authorized(req, token)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    return server;
  };
  const listen = (server: Server, ...args: unknown[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      (server.listen as (...a: unknown[]) => void)(...args, () => resolve());
    });

  const servers: Server[] = [];
  await claimSocketPath(opts.socketPath);
  const unixServer = makeServer(undefined);
  // The socket is created 0600, no window for others. listen() binds a Unix
  // socket synchronously, so the umask is restored before anything else in this
  // process runs: held across an await it leaked to every file and child made
  // meanwhile, and two daemons starting at once restored each other's 0177.
  const oldMask = process.umask(0o177);
  let listening: Promise<void>;
  try {
    listening = listen(unixServer, opts.socketPath);
  } finally {
    process.umask(oldMask);
  }
  await listening;
  chmodSync(opts.socketPath, 0o600);
  servers.push(unixServer);
  let tcpAddress: PoolDaemon['tcpAddress'];
  if (opts.tcp) {
    const tcp = opts.tcp;
    const tcpServer = makeServer(tcp.token);
    try {
      await listen(tcpServer, tcp.port, tcp.host);
    } catch (err) {
      await new Promise<void>((resolve) => unixServer.close(() => resolve()));
      throw err;
    }
    servers.push(tcpServer);
    const a = tcpServer.address();
    const port = typeof a === 'object' && a ? a.port : tcp.port;
    const host = tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host;
    tcpAddress = { url: `ws://${host}:${port}/`, token: tcp.token };
  }

  const tick = (): void => {
    const t0 = performance.now();
    const before = core.domains.length;
    pushQuotas(core.rebalance(nowMs()));
    metrics.rebalanced((performance.now() - t0) / 1e3);
    if (core.domains.length !== before) broadcastState();
  };
  const stopTicking = opts.autoTick === false || opts.core ? undefined : every(clock, opts.intervalMs, tick);

  return {
    core,
    metrics,
    address: { socketPath: opts.socketPath },
    ...(tcpAddress ? { tcpAddress } : {}),
    tick,
    publishState: broadcastState,
    close: async () => {
      stopTicking?.();
      if (broadcastPending) clearTimeout(broadcastPending);
      for (const c of conns) c.ws.terminate();
      wss.close();
      for (const server of servers) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
      }
    },
  };
}
