/**
 * Writes traces: a streaming writer (epoch by epoch, for the converter) and a
 * whole-trace writer. Files are written to a temporary name and renamed into
 * place, so a failed or interrupted write never leaves a half-written trace; a
 * name ending in .gz is gzip-compressed.
 */
import { createReadStream, createWriteStream, renameSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { formatHeader, type TraceHeader } from './header.js';
import type { TraceData } from './trace-data.js';

/** Formats the lines of one epoch (pages in the order given); `lineCounts` adds the 4th field (line_size traces). */
export function formatEpoch(
  epoch: number,
  page: ArrayLike<number>,
  reads: ArrayLike<number>,
  writes: ArrayLike<number>,
  count: number,
  lineCounts?: ArrayLike<number>,
): string {
  const lines = new Array<string>(count + 1);
  lines[0] = `epoch ${epoch}`;
  if (lineCounts) for (let i = 0; i < count; i++) lines[i + 1] = `${page[i]!.toString(16)} ${reads[i]!} ${writes[i]!} ${lineCounts[i]!}`;
  else for (let i = 0; i < count; i++) lines[i + 1] = `${page[i]!.toString(16)} ${reads[i]!} ${writes[i]!}`;
  return lines.join('\n') + '\n';
}

/** Maps the page field of every page line in `text` (whole lines) through `renumber`. */
function renumberLines(text: string, renumber: Uint32Array): string {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.startsWith('epoch')) continue;
    const space = line.indexOf(' ');
    lines[i] = renumber[parseInt(line.slice(0, space), 16)]!.toString(16) + line.slice(space);
  }
  return lines.join('\n');
}

/** All of a trace as text chunks: the header, then one chunk per epoch. */
export function* traceChunks(trace: TraceData): Generator<string> {
  yield formatHeader(trace.header) + '\n';
  for (let e = 0; e < trace.epochCount; e++) {
    const a = trace.epochStart[e]!;
    const b = trace.epochStart[e + 1]!;
    yield formatEpoch(e, trace.page.subarray(a, b), trace.reads.subarray(a, b), trace.writes.subarray(a, b), b - a, trace.lines?.subarray(a, b));
  }
}

/** Writes a whole trace to `path` (gzip if it ends in .gz), atomically. */
export async function writeTraceFile(path: string, trace: TraceData): Promise<void> {
  formatHeader(trace.header); // a bad header fails here, before any file is opened
  await writeAtomically(path, Readable.from(traceChunks(trace)));
}

/** Pipes `source` (text chunks) into `path` through a temporary file; gzip if the name ends in .gz. */
export async function writeAtomically(path: string, source: Readable): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const file = createWriteStream(tmp);
  try {
    if (path.endsWith('.gz')) await pipeline(source, createGzip({ level: 9 }), file);
    else await pipeline(source, file);
    renameSync(tmp, path);
  } catch (err) {
    // The stream may still be opening the file: wait until it is closed, then remove it.
    if (!file.closed) await once(file, 'close').catch(() => undefined);
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Streams epochs to a temporary body file while the footprint is still
 * unknown; finish() then writes header + body to the destination. Memory use
 * is one epoch, not the whole trace.
 */
export class StreamingTraceWriter {
  private readonly bodyPath: string;
  private readonly body: WriteStream;
  private epochs = 0;

  constructor(private readonly path: string) {
    this.bodyPath = `${path}.body-${process.pid}`;
    this.body = createWriteStream(this.bodyPath);
  }

  get epochCount(): number {
    return this.epochs;
  }

  /** Appends one epoch; waits when the file stream asks for back-pressure. */
  async writeEpoch(page: ArrayLike<number>, reads: ArrayLike<number>, writes: ArrayLike<number>, count: number, lineCounts?: ArrayLike<number>): Promise<void> {
    const text = formatEpoch(this.epochs++, page, reads, writes, count, lineCounts);
    if (!this.body.write(text)) await once(this.body, 'drain');
  }

  /**
   * Writes the final file with `header` (validated) in front of the epochs,
   * then removes the body. `renumber[p]`, if given, replaces every page index
   * p written so far (one streaming pass over the body).
   */
  async finish(header: TraceHeader, renumber?: Uint32Array): Promise<void> {
    const headerLine = formatHeader(header) + '\n';
    try {
      await this.closeBody();
      const bodyPath = this.bodyPath;
      async function* all(): AsyncGenerator<string | Buffer> {
        yield headerLine;
        if (renumber === undefined) {
          yield* createReadStream(bodyPath);
          return;
        }
        let rest = '';
        for await (const chunk of createReadStream(bodyPath, { encoding: 'latin1' })) {
          const text = rest + (chunk as string);
          const cut = text.lastIndexOf('\n') + 1;
          rest = text.slice(cut);
          if (cut > 0) yield renumberLines(text.slice(0, cut), renumber);
        }
        if (rest !== '') yield renumberLines(rest, renumber);
      }
      await writeAtomically(this.path, Readable.from(all()));
    } finally {
      rmSync(this.bodyPath, { force: true });
    }
  }

  /** Drops everything written so far (on error). */
  async abort(): Promise<void> {
    await this.closeBody().catch(() => undefined);
    rmSync(this.bodyPath, { force: true });
  }

  private async closeBody(): Promise<void> {
    if (this.body.closed) return;
    this.body.end();
    await once(this.body, 'close');
  }
}
