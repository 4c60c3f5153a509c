/**
 * A trace in memory: per epoch, the pages touched with their read and write
 * counts, in flat typed arrays (no object per line). Epoch e owns lines
 * [epochStart[e], epochStart[e + 1]).
 */
import type { TraceHeader } from './header.js';

export interface TraceData {
  readonly header: TraceHeader;
  /** Footprint: header.pages, else the largest page index + 1. */
  readonly pageCount: number;
  readonly epochCount: number;
  readonly epochStart: Uint32Array;
  readonly page: Uint32Array;
  readonly reads: Uint32Array;
  readonly writes: Uint32Array;
  /** Sum of reads and writes over all lines. */
  readonly totalAccesses: number;
}

/** Growable Uint32Array for building traces line by line. */
export class U32Builder {
  private buf = new Uint32Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.buf.length) {
      const bigger = new Uint32Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = v;
  }

  finish(): Uint32Array {
    return this.buf.slice(0, this.length);
  }
}

/** One epoch given as parallel arrays (for writers and tests). */
export interface TraceEpoch {
  page: ArrayLike<number>;
  reads: ArrayLike<number>;
  writes: ArrayLike<number>;
}

/** Builds TraceData from epochs; pages must be distinct within an epoch. */
export function traceFromEpochs(header: TraceHeader, epochs: readonly TraceEpoch[]): TraceData {
  const page = new U32Builder();
  const reads = new U32Builder();
  const writes = new U32Builder();
  const epochStart = new Uint32Array(epochs.length + 1);
  let maxPage = -1;
  let total = 0;
  epochs.forEach((e, i) => {
    epochStart[i] = page.length;
    for (let j = 0; j < e.page.length; j++) {
      page.push(e.page[j]!);
      reads.push(e.reads[j]!);
      writes.push(e.writes[j]!);
      maxPage = Math.max(maxPage, e.page[j]!);
      total += e.reads[j]! + e.writes[j]!;
    }
  });
  epochStart[epochs.length] = page.length;
  return {
    header,
    pageCount: header.pages ?? maxPage + 1,
    epochCount: epochs.length,
    epochStart,
    page: page.finish(),
    reads: reads.finish(),
    writes: writes.finish(),
    totalAccesses: total,
  };
}
