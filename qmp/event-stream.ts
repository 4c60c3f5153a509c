/**
 * A push queue exposed as an async iterator: the client pushes QMP events in,
 * a `for await` loop pulls them out in order. Events that arrive while the
 * consumer is busy are buffered (up to a bound; beyond it the oldest are
 * dropped and counted, so a forgotten iterator cannot grow without limit).
 */
import type { QmpEvent } from './types.js';

export class EventStream implements AsyncIterableIterator<QmpEvent> {
  private readonly buffer: QmpEvent[] = [];
  private waiter: { resolve: (r: IteratorResult<QmpEvent>) => void; reject: (e: unknown) => void } | undefined;
  private done = false;
  private failure: unknown = undefined;
  /** Events dropped because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly accepts: (event: QmpEvent) => boolean,
    private readonly onFinish: (stream: EventStream) => void,
    private readonly maxBuffered = 10_000,
  ) {}

  /** Offer an event; ignored if it does not match or the stream is finished. */
  push(event: QmpEvent): void {
    if (this.done || !this.accepts(event)) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: event, done: false });
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer.shift();
      this.dropped += 1;
    }
    this.buffer.push(event);
  }

  /** End the stream: buffered events are still delivered, then `done` (or `error` is thrown). */
  finish(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.onFinish(this);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      if (error !== undefined) {
        this.failure = undefined; // delivered: later next() calls just report done
        w.reject(error);
      } else w.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<QmpEvent>> {
    const queued = this.buffer.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.done) {
      if (this.failure !== undefined) {
        const error = this.failure;
        this.failure = undefined;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiter) return Promise.reject(new Error('EventStream.next() called again before the previous call settled'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<QmpEvent>> {
    this.buffer.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<QmpEvent> {
    return this;
  }
}
