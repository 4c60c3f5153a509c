/**
 * QMP framing: QEMU writes one JSON object per line ("\r\n"-terminated). A read
 * may carry half a line or several lines; this splitter turns a byte stream
 * into whole lines and bounds how much it will buffer for one line, so a
 * runaway peer cannot make us hold unbounded memory.
 */
import { QmpProtocolError } from './errors.js';

/** Default bound for one QMP message: generous for `info mtree` and `query-qmp-schema`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const NEWLINE = 0x0a;

export class LineSplitter {
  private readonly maxLineBytes: number;
  /** Bytes of the current, still unterminated line, kept as chunks to avoid re-copying. */
  private parts: Buffer[] = [];
  private partsBytes = 0;

  constructor(maxLineBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes <= 0) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${maxLineBytes}`);
    }
    this.maxLineBytes = maxLineBytes;
  }

  /**
   * Feed bytes; returns the complete lines they finish (without "\r\n", blank
   * lines dropped). Throws QmpProtocolError once a line exceeds the bound; the
   * splitter is then unusable (the connection must be closed).
   */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      this.append(chunk.subarray(start, nl));
      const line = this.take();
      if (line.length > 0) lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
    return lines;
  }

  /** Bytes buffered for the current unterminated line. */
  get pendingBytes(): number {
    return this.partsBytes;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.partsBytes + bytes.length > this.maxLineBytes) {
      const seen = this.partsBytes + bytes.length;
      this.parts = [];
      this.partsBytes = 0;
      throw new QmpProtocolError(
        `QMP message larger than the ${this.maxLineBytes}-byte bound (at least ${seen} bytes ` +
          'without a newline); closing the connection',
      );
    }
    this.parts.push(bytes);
    this.partsBytes += bytes.length;
  }

  private take(): string {
    if (this.parts.length === 0) return '';
    const whole = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partsBytes);
    this.parts = [];
    this.partsBytes = 0;
    let end = whole.length;
    if (end > 0 && whole[end - 1] === 0x0d) end -= 1;
    return whole.toString('utf8', 0, end).trim();
  }
}
