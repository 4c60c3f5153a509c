/**
 * Reads a trace file (plain text or gzip, recognised by its magic bytes) into
 * typed arrays. Every malformed line is an error naming the file, the line
 * number and what was expected there. See docs/trace-format.md.
 *
 * Memory is the trace's own arrays: a page listed twice in one epoch is found
 * by sorting that epoch's pages when it ends (O(n log n) per epoch), never by
 * a table over the page numbers, so a sparse trace (pages 0-199 and
 * 0x1ffe000) costs what its lines cost.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { clip, parseHeader, type TraceHeader } from './header.js';
import { U32Builder, type TraceData } from './trace-data.js';

const MAX_PAGE = 2 ** 31 - 1;
const MAX_COUNT = 2 ** 32 - 1;
const LINE_SHAPE = "'<page_hex> <reads> <writes>' (hex page index, decimal counts)";
const LINE_SHAPE_WITH_LINES = "'<page_hex> <reads> <writes> <lines>' (hex page index, decimal counts, distinct 64 B lines 1..64; the header has line_size=64)";

export function readTraceFile(path: string): TraceData {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read trace: ${(err as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new Error(`${path}: corrupt gzip: ${(err as Error).message}`);
    }
  }
  return parseTrace(bytes.toString('utf8'), path);
}

/** Parses trace text; `file` names the source in error messages. */
export function parseTrace(text: string, file: string): TraceData {
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | null => {
    if (pos >= text.length) return null;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    pos = end + 1;
    lineNo++;
    return line;
  };

  const first = nextLine();
  if (first === null) throw new Error(`${file}:1: empty file, expected the header '# trace NAME page_size=4096 epoch_accesses=N ...'`);
  const header: TraceHeader = parseHeader(first, `${file}:1`);
  const declaredPages = header.pages;

  const withLines = header.line_size !== undefined;
  const shape = withLines ? LINE_SHAPE_WITH_LINES : LINE_SHAPE;
  const fieldCount = withLines ? 4 : 3;
  const page = new U32Builder();
  const reads = new U32Builder();
  const writes = new U32Builder();
  const lines = new U32Builder();
  const epochStart = new U32Builder();
  // Line numbers of the current epoch's entries, to name a page listed twice.
  let epochLines = new U32Builder();
  let maxPage = -1;
  let total = 0;
  let epoch = -1;
  const closeEpoch = (): void => {
    if (epoch >= 0) checkDistinct(page, epochStart.last(), epochLines, file, epoch);
    epochLines = new U32Builder();
  };

  for (let line = nextLine(); line !== null; line = nextLine()) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const where = `${file}:${lineNo}`;
    if (t.startsWith('epoch')) {
      const m = /^epoch\s+(\d+)$/.exec(t);
      if (!m || Number(m[1]) !== epoch + 1) throw new Error(`${where}: expected 'epoch ${epoch + 1}', got '${clip(t)}'`);
      closeEpoch();
      epoch++;
      epochStart.push(page.length);
      continue;
    }
    const f = t.split(/\s+/);
    if (
      f.length !== fieldCount ||
      !/^[0-9a-fA-F]{1,8}$/.test(f[0]!) ||
      !/^\d{1,10}$/.test(f[1]!) ||
      !/^\d{1,10}$/.test(f[2]!) ||
      (withLines && !/^\d{1,2}$/.test(f[3]!))
    ) {
      throw new Error(`${where}: expected ${shape}${epoch < 0 ? " or 'epoch 0'" : " or 'epoch N'"}, got '${clip(t)}'`);
    }
    if (epoch < 0) throw new Error(`${where}: expected 'epoch 0' before the first page line, got '${clip(t)}'`);
    const p = parseInt(f[0]!, 16);
    const r = Number(f[1]);
    const w = Number(f[2]);
    if (p > MAX_PAGE) throw new Error(`${where}: page 0x${f[0]} is beyond the largest page index 0x${MAX_PAGE.toString(16)}`);
    if (declaredPages !== undefined && p >= declaredPages) {
      throw new Error(`${where}: page 0x${f[0]} is outside the ${declaredPages} pages the header declares (pages=${declaredPages})`);
    }
    if (r > MAX_COUNT || w > MAX_COUNT) throw new Error(`${where}: counts must be below 2^32, got '${clip(t)}'`);
    if (withLines) {
      const l = Number(f[3]);
      if (l < 1 || l > 64) throw new Error(`${where}: the line count must be 1..64 (distinct 64 B lines of a 4 KiB page), got ${l}`);
      lines.push(l);
    }
    page.push(p);
    reads.push(r);
    writes.push(w);
    epochLines.push(lineNo);
    if (p > maxPage) maxPage = p;
    total += r + w;
  }
  closeEpoch();

  const epochCount = epoch + 1;
  if (epochCount === 0) throw new Error(`${file}:${lineNo + 1}: expected 'epoch 0', the file has no epochs`);
  if (header.epochs !== undefined && header.epochs !== epochCount) {
    throw new Error(`${file}:${lineNo}: the header declares epochs=${header.epochs}, the file has ${epochCount}`);
  }
  if (header.accesses !== undefined && header.accesses !== total) {
    throw new Error(`${file}:${lineNo}: the header declares accesses=${header.accesses}, the file has ${total}`);
  }
  epochStart.push(page.length);
  return {
    header,
    pageCount: declaredPages ?? maxPage + 1,
    epochCount,
    epochStart: epochStart.finish(),
    page: page.finish(),
    reads: reads.finish(),
    writes: writes.finish(),
    ...(withLines ? { lines: Uint8Array.from(lines.finish()) } : {}),
    totalAccesses: total,
  };
}

/** Throws naming the second listing if a page appears twice among entries [from, page.length). */
function checkDistinct(page: U32Builder, from: number, lineNos: U32Builder, file: string, epoch: number): void {
  const n = page.length - from;
  if (n < 2) return;
  // Sort (page, position) pairs as one number: pages < 2^31, positions < 2^21 per epoch keep it exact.
  if (n >= 2 ** 21) throw new Error(`${file}: epoch ${epoch} lists ${n} pages, more than the 2^21 this reader checks`);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = page.at(from + i) * 2 ** 21 + i;
  keys.sort();
  for (let i = 1; i < n; i++) {
    const a = Math.floor(keys[i - 1]! / 2 ** 21);
    const b = Math.floor(keys[i]! / 2 ** 21);
    if (a === b) {
      const second = Math.max(keys[i - 1]! - a * 2 ** 21, keys[i]! - b * 2 ** 21);
      throw new Error(`${file}:${lineNos.at(second)}: page 0x${a.toString(16).padStart(2, '0')} is listed twice in epoch ${epoch}, expected one line per page`);
    }
  }
}
