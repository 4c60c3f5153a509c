/**
 * The QMP client: one connection to one QEMU monitor socket.
 *
 * - connect (unix or TCP), read the greeting, negotiate capabilities;
 * - `execute()` sends commands with ids, so many can be in flight; each has a
 *   timeout and an optional AbortSignal;
 * - events go to EventEmitter listeners (`'event'` for all, and the event's own
 *   upper-case name, e.g. `'STOP'`) and to async iterators from `events()`;
 * - the connection closing rejects every pending command at once with a
 *   QmpClosedError naming the command;
 * - optional reconnect with exponential backoff, for a manager that outlives
 *   a QEMU restart; `close()` ends it all cleanly.
 *
 * Emitted (never `'error'`, so an unhandled emit can never crash the process):
 * `'event'`, `'<EVENT NAME>'`, `'protocol-error'` (QmpProtocolError: a line that
 * is not JSON / not QMP; the connection stays up unless the message was
 * oversized), `'disconnect'` (Error), `'reconnect'` (QmpGreeting),
 * `'reconnect-failed'` (Error, per attempt), `'close'` (Error | undefined).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import {
  QmpClosedError,
  QmpConnectError,
  QmpError,
  QmpEventTimeoutError,
  QmpGreetingTimeoutError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
import { EventStream } from './event-stream.js';
import { DEFAULT_MAX_MESSAGE_BYTES, LineSplitter } from './framing.js';
import { describeAddress, type QmpAddress, type QmpEvent, type QmpGreeting } from './types.js';

export interface ReconnectOptions {
  /** First delay after a lost connection (default 100 ms). */
  initialDelayMs?: number;
  /** Upper bound of the delay (default 5000 ms). */
  maxDelayMs?: number;
  /** Delay multiplier per failed attempt (default 2). */
  factor?: number;
  /** Give up after this many failed attempts (default: never). */
  maxAttempts?: number;
}

export interface QmpClientOptions {
  /** Bound for connect + greeting + capabilities (default 5000 ms). */
  greetingTimeoutMs?: number;
  /** Default per-command timeout; 0 disables (default 30000 ms). */
  commandTimeoutMs?: number;
  /** Largest accepted QMP message (default 16 MiB); beyond it the connection is closed. */
  maxMessageBytes?: number;
  /** Capabilities to enable in `qmp_capabilities` (default none). */
  capabilities?: string[];
  /** Reconnect after the connection is lost (not after close()). Default off. */
  reconnect?: boolean | ReconnectOptions;
}

export interface ExecuteOptions {
  /** Overrides the client's commandTimeoutMs; 0 disables. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WaitForEventOptions<D> {
  /** Only events for which this returns true. */
  filter?: (event: QmpEvent<D>) => boolean;
  /** Default: the client's commandTimeoutMs; 0 waits for ever. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type QmpClientState = 'connecting' | 'ready' | 'reconnecting' | 'closed';

interface Pending {
  id: number;
  command: string;
  line: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  cleanup: () => void;
  sent: boolean;
}

/** What a session (one socket) waits for while it is being opened. */
interface Handshake {
  onGreeting: (greeting: QmpGreeting) => void;
  fail: (error: Error) => void;
}

const DEFAULTS = {
  greetingTimeoutMs: 5000,
  commandTimeoutMs: 30000,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
};

export class QmpClient extends EventEmitter {
  readonly address: QmpAddress;
  private readonly options: Required<Omit<QmpClientOptions, 'reconnect' | 'capabilities'>> & {
    capabilities: string[];
    reconnect: Required<ReconnectOptions> | undefined;
  };
  private socket: net.Socket | undefined;
  private handshake: Handshake | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Ids of commands given up on (timeout/abort): their late replies are dropped quietly. */
  private readonly abandoned = new Set<number>();
  private readonly streams = new Set<EventStream>();
  private nextId = 1;
  private currentState: QmpClientState = 'connecting';
  private currentGreeting: QmpGreeting | undefined;
  private cancelReconnectSleep: (() => void) | undefined;
  /** Why the current socket is being closed by us (oversized message), for the rejections. */
  private closeCause: Error | undefined;
  /** Last socket error of the current session, reported when it closes. */
  private lastSocketError: Error | undefined;

  private constructor(address: QmpAddress, options: QmpClientOptions) {
    super();
    // Waiters (waitForEvent) add listeners and always remove them again.
    this.setMaxListeners(0);
    this.address = address;
    const r = options.reconnect;
    this.options = {
      greetingTimeoutMs: options.greetingTimeoutMs ?? DEFAULTS.greetingTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      capabilities: options.capabilities ?? [],
      reconnect:
        r === undefined || r === false
          ? undefined
          : {
              initialDelayMs: (r === true ? undefined : r.initialDelayMs) ?? 100,
              maxDelayMs: (r === true ? undefined : r.maxDelayMs) ?? 5000,
              factor: (r === true ? undefined : r.factor) ?? 2,
              maxAttempts: (r === true ? undefined : r.maxAttempts) ?? Number.POSITIVE_INFINITY,
            },
    };
  }

  /**
   * Connect, read the greeting and negotiate capabilities. Rejects with
   * QmpConnectError (nothing listening), QmpGreetingTimeoutError (accepted but
   * never greeted: socket busy) or QmpProtocolError (not a QMP peer).
   */
  static async connect(address: QmpAddress, options: QmpClientOptions = {}): Promise<QmpClient> {
    const client = new QmpClient(address, options);
    try {
      await client.openSession();
    } catch (error) {
      client.currentState = 'closed';
      throw error;
    }
    client.currentState = 'ready';
    return client;
  }

  get state(): QmpClientState {
    return this.currentState;
  }

  /** The greeting of the current (or last) session: QEMU's version and capabilities. */
  get greeting(): QmpGreeting {
    if (!this.currentGreeting) throw new Error('QMP client has no greeting yet');
    return this.currentGreeting;
  }

  /** Commands sent or queued and not yet answered. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Run a QMP command and resolve with its `return` value. While reconnecting,
   * the command waits (within its timeout) for the new session.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: ExecuteOptions = {}): Promise<T> {
    if (this.currentState === 'closed') {
      return Promise.reject(new QmpClosedError(command, 'the client is closed'));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    const id = this.nextId++;
    const message: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) message['arguments'] = args;
    const line = JSON.stringify(message) + '\n';

    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        this.giveUp(id);
        reject(signal!.reason);
      };
      const entry: Pending = {
        id,
        command,
        line,
        resolve: resolve as (value: unknown) => void,
        reject,
        sent: false,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.giveUp(id);
          reject(new QmpTimeoutError(command, timeoutMs));
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, entry);
      if (this.currentState === 'ready') this.send(entry);
    });
  }

  /**
   * Async iterator over events, optionally only the named ones. Subscribes at
   * once (before the first `next()`), so events triggered right after the call
   * are not missed. Ends when the client closes; throws the abort reason if
   * `signal` aborts.
   */
  events(names?: string | readonly string[], options: { signal?: AbortSignal } = {}): AsyncIterableIterator<QmpEvent> {
    const wanted = names === undefined ? undefined : new Set(typeof names === 'string' ? [names] : names);
    const stream = new EventStream(
      (e) => wanted === undefined || wanted.has(e.event),
      (s) => {
        this.streams.delete(s);
        options.signal?.removeEventListener('abort', onAbort);
      },
    );
    const onAbort = (): void => stream.finish(options.signal!.reason);
    if (this.currentState === 'closed') {
      stream.finish();
    } else if (options.signal?.aborted) {
      stream.finish(options.signal.reason);
    } else {
      this.streams.add(stream);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    }
    return stream;
  }

  /** Resolve with the next event of this name (and matching `filter`). Subscribe before triggering it. */
  waitForEvent<D = Record<string, unknown>>(name: string, options: WaitForEventOptions<D> = {}): Promise<QmpEvent<D>> {
    if (this.currentState === 'closed') {
      return Promise.reject(new QmpClosedError(undefined, `the client is closed (was waiting for event ${name})`));
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        this.off(name, onEvent);
        this.off('close', onClose);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onEvent = (event: QmpEvent<D>): void => {
        if (options.filter && !options.filter(event)) return;
        cleanup();
        resolve(event);
      };
      const onClose = (): void => {
        cleanup();
        reject(new QmpClosedError(undefined, `closed while waiting for event ${name}`));
      };
      const onAbort = (): void => {
        cleanup();
        reject(options.signal!.reason);
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          cleanup();
          reject(new QmpEventTimeoutError(name, timeoutMs));
        }, timeoutMs);
      }
      this.on(name, onEvent);
      this.on('close', onClose);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Close for good: stop reconnecting, reject pending commands (QmpClosedError
   * "closed by the client"), end event iterators, close the socket.
   */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    this.cancelReconnectSleep?.();
    this.handshake?.fail(new QmpClosedError(undefined, 'closed by the client while connecting'));
    const socket = this.socket;
    this.socket = undefined;
    this.rejectAll('closed by the client');
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => socket.destroy(), 1000);
        socket.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        socket.end();
      });
    }
    this.finishStreams();
    this.emit('close', undefined);
  }

  // ---- sessions -----------------------------------------------------------

  /** Open one socket, take the greeting, negotiate capabilities. */
  private async openSession(): Promise<void> {
    const where = describeAddress(this.address);
    const timeoutMs = this.options.greetingTimeoutMs;
    const splitter = new LineSplitter(this.options.maxMessageBytes);
    const socket =
      'path' in this.address
        ? net.createConnection({ path: this.address.path })
        : net.createConnection({ host: this.address.host, port: this.address.port });
    this.socket = socket;

    let connected = false;
    let greetingTimer: NodeJS.Timeout | undefined;
    const greeting = new Promise<QmpGreeting>((resolve, reject) => {
      this.handshake = { onGreeting: resolve, fail: reject };
      greetingTimer = setTimeout(() => {
        reject(
          connected
            ? new QmpGreetingTimeoutError(where, timeoutMs)
            : new QmpConnectError(where, new Error(`connect did not complete within ${timeoutMs} ms`)),
        );
      }, timeoutMs);
    });
    socket.once('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, splitter, chunk));
    socket.on('error', (error) => {
      if (this.handshake) this.handshake.fail(connected ? error : new QmpConnectError(where, error));
      else this.lastSocketError = error;
    });
    socket.on('close', () => this.onSocketClose(socket));

    try {
      this.currentGreeting = await greeting;
      this.handshake = undefined;
      // qmp_capabilities goes through the normal id-matching path; send it
      // directly since the state is not 'ready' yet.
      await this.executeDuringHandshake('qmp_capabilities', { enable: this.options.capabilities }, timeoutMs);
    } catch (error) {
      this.handshake = undefined;
      socket.destroy();
      if (this.socket === socket) this.socket = undefined;
      throw error;
    } finally {
      if (greetingTimer) clearTimeout(greetingTimer);
    }
  }

  private executeDuringHandshake(command: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    const line = JSON.stringify({ execute: command, arguments: args, id }) + '\n';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.giveUp(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      const entry: Pending = { id, command, line, resolve, reject, sent: false, cleanup: () => clearTimeout(timer) };
      this.pending.set(id, entry);
      this.send(entry);
    });
  }

  private send(entry: Pending): void {
    entry.sent = true;
    this.socket?.write(entry.line);
  }

  private onData(socket: net.Socket, splitter: LineSplitter, chunk: Buffer): void {
    if (socket !== this.socket) return;
    let lines: string[];
    try {
      lines = splitter.push(chunk);
    } catch (error) {
      // Oversized message: the stream can no longer be resynchronised.
      const err = error as QmpProtocolError;
      this.emit('protocol-error', err);
      this.closeCause = err;
      if (this.handshake) this.handshake.fail(err);
      socket.destroy();
      return;
    }
    for (const line of lines) {
      if (socket !== this.socket) return;
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.protocolError(`QMP peer sent a line that is not JSON: ${preview(line)}`);
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.protocolError(`QMP peer sent JSON that is not an object: ${preview(line)}`);
      return;
    }
    const m = message as Record<string, unknown>;
    if (this.handshake) {
      const qmp = m['QMP'] as Record<string, unknown> | undefined;
      if (!qmp || typeof qmp !== 'object' || typeof qmp['version'] !== 'object') {
        this.protocolError(`expected the QMP greeting, got: ${preview(line)}`);
        return;
      }
      const capabilities = Array.isArray(qmp['capabilities']) ? (qmp['capabilities'] as string[]) : [];
      const handshake = this.handshake;
      this.handshake = undefined;
      handshake.onGreeting({ version: qmp['version'] as QmpGreeting['version'], capabilities });
      return;
    }
    if (typeof m['event'] === 'string') {
      this.dispatchEvent(m);
      return;
    }
    if ('return' in m || 'error' in m) {
      this.dispatchReply(m, line);
      return;
    }
    this.protocolError(`QMP peer sent an object that is neither reply nor event: ${preview(line)}`);
  }

  private protocolError(detail: string): void {
    const error = new QmpProtocolError(detail);
    if (this.handshake) this.handshake.fail(error);
    else this.emit('protocol-error', error);
  }

  private dispatchReply(m: Record<string, unknown>, line: string): void {
    const id = m['id'];
    const entry = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!entry) {
      if (typeof id === 'number' && this.abandoned.delete(id)) return;
      this.protocolError(`QMP reply matches no pending command: ${preview(line)}`);
      return;
    }
    this.pending.delete(entry.id);
    entry.cleanup();
    if ('error' in m) {
      const e = (m['error'] ?? {}) as Record<string, unknown>;
      entry.reject(new QmpError(entry.command, String(e['class'] ?? 'GenericError'), String(e['desc'] ?? '')));
    } else {
      entry.resolve(m['return']);
    }
  }

  private dispatchEvent(m: Record<string, unknown>): void {
    const ts = (m['timestamp'] ?? {}) as Record<string, unknown>;
    const event: QmpEvent = {
      event: m['event'] as string,
      data: (m['data'] ?? {}) as Record<string, unknown>,
      timestamp: { seconds: Number(ts['seconds'] ?? 0), microseconds: Number(ts['microseconds'] ?? 0) },
    };
    for (const stream of this.streams) stream.push(event);
    this.emit('event', event);
    this.emit(event.event, event);
  }

  /** Timeout or abort: forget the command, remember its id to drop a late reply. */
  private giveUp(id: number): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.cleanup();
    if (entry.sent) this.abandoned.add(id);
  }

  private rejectAll(reason: string, cause?: Error): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.abandoned.clear();
    for (const entry of entries) {
      entry.cleanup();
      entry.reject(new QmpClosedError(entry.command, reason, cause ? { cause } : undefined));
    }
  }

  private onSocketClose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    const cause = this.closeCause ?? this.lastSocketError;
    this.closeCause = undefined;
    this.lastSocketError = undefined;
    if (this.handshake) {
      this.handshake.fail(cause ?? new QmpProtocolError(`${describeAddress(this.address)} closed the connection before greeting`));
      return;
    }
    if (this.currentState !== 'ready') {
      // Closed during capabilities negotiation: fail the handshake command;
      // commands queued for after a reconnect keep waiting.
      for (const entry of [...this.pending.values()]) {
        if (!entry.sent) continue;
        this.pending.delete(entry.id);
        entry.cleanup();
        entry.reject(new QmpClosedError(entry.command, cause?.message ?? 'QEMU closed the connection', { cause }));
      }
      return;
    }
    const reason = cause ? `${cause.message}` : 'QEMU closed the connection';
    this.rejectAll(reason, cause);
    const error = new QmpClosedError(undefined, reason, cause ? { cause } : undefined);
    this.emit('disconnect', error);
    if (this.options.reconnect) {
      this.currentState = 'reconnecting';
      void this.reconnectLoop(this.options.reconnect);
    } else {
      this.currentState = 'closed';
      this.finishStreams();
      this.emit('close', error);
    }
  }

  private async reconnectLoop(r: Required<ReconnectOptions>): Promise<void> {
    let delay = r.initialDelayMs;
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= r.maxAttempts; attempt++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.cancelReconnectSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.cancelReconnectSleep = undefined;
      if (this.currentState !== 'reconnecting') return;
      try {
        await this.openSession();
      } catch (error) {
        lastError = error as Error;
        if (this.currentState !== 'reconnecting') return;
        this.emit('reconnect-failed', lastError);
        delay = Math.min(delay * r.factor, r.maxDelayMs);
        continue;
      }
      if (this.currentState !== 'reconnecting') {
        this.socket?.destroy();
        return;
      }
      this.currentState = 'ready';
      for (const entry of this.pending.values()) if (!entry.sent) this.send(entry);
      this.emit('reconnect', this.currentGreeting);
      return;
    }
    this.currentState = 'closed';
    const reason = `gave up reconnecting after ${r.maxAttempts} attempts${lastError ? `: ${lastError.message}` : ''}`;
    this.rejectAll(reason, lastError);
    this.finishStreams();
    this.emit('close', new QmpClosedError(undefined, reason));
  }

  private finishStreams(): void {
    for (const stream of [...this.streams]) stream.finish();
  }
}

function preview(line: string): string {
  return JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}...` : line);
}
