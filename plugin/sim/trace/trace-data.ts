/**
 * A trace in memory: per epoch, the pages touched with their read and write
 * counts (and, if the trace records them, how many distinct 64 B lines of the
 * page the epoch touched), in flat typed arrays (no object per line). Epoch e
 * owns lines [epochStart[e], epochStart[e + 1]).
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
  /** Distinct 64 B lines touched per entry (1..64); absent when the trace does not record them (no line_size in the header). */
  readonly lines?: Uint8Array;
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

  at(i: number): number {
    return this.buf[i]!;
  }

  /** The last value pushed (0 if none). */
  last(): number {
    return this.length > 0 ? this.buf[this.length - 1]! : 0;
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
  /** Distinct lines per page (only with line_size=64 in the header). */
  lines?: ArrayLike<number>;
}

/** Builds TraceData from epochs; pages must be distinct within an epoch. */
export function traceFromEpochs(header: TraceHeader, epochs: readonly TraceEpoch[]): TraceData {
  const page = new U32Builder();
  const reads = new U32Builder();
  const writes = new U32Builder();
  const withLines = header.line_size !== undefined;
  const lines = new U32Builder();
  const epochStart = new Uint32Array(epochs.length + 1);
  let maxPage = -1;
  let total = 0;
  epochs.forEach((e, i) => {
    epochStart[i] = page.length;
    for (let j = 0; j < e.page.length; j++) {
      page.push(e.page[j]!);
      reads.push(e.reads[j]!);
      writes.push(e.writes[j]!);
      if (withLines) {
        if (e.lines === undefined) throw new Error(`trace ${header.name}: the header has line_size but epoch ${i} gives no line counts`);
        lines.push(e.lines[j]!);
      }
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
    ...(withLines ? { lines: Uint8Array.from(lines.finish()) } : {}),
    totalAccesses: total,
  };
}
