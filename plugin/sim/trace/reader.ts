/**
 * Reads a trace file (plain text or gzip, recognised by its magic bytes) into
 * typed arrays. Every malformed line is an error naming the file, the line
 * number and what was expected there. See docs/trace-format.md.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { clip, parseHeader, type TraceHeader } from './header.js';
import { U32Builder, type TraceData } from './trace-data.js';

const MAX_PAGE = 2 ** 31 - 1;
const MAX_COUNT = 2 ** 32 - 1;
const LINE_SHAPE = "'<page_hex> <reads> <writes>' (hex page index, decimal counts)";

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

  const page = new U32Builder();
  const reads = new U32Builder();
  const writes = new U32Builder();
  const epochStart = new U32Builder();
  // Epoch in which each page was last listed (+1), to catch a page listed twice in one epoch.
  let seenIn = new Uint32Array(declaredPages ?? 1024);
  let maxPage = -1;
  let total = 0;
  let epoch = -1;

  for (let line = nextLine(); line !== null; line = nextLine()) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const where = `${file}:${lineNo}`;
    if (t.startsWith('epoch')) {
      const m = /^epoch\s+(\d+)$/.exec(t);
      if (!m || Number(m[1]) !== epoch + 1) throw new Error(`${where}: expected 'epoch ${epoch + 1}', got '${clip(t)}'`);
      epoch++;
      epochStart.push(page.length);
      continue;
    }
    const f = t.split(/\s+/);
    if (f.length !== 3 || !/^[0-9a-fA-F]{1,8}$/.test(f[0]!) || !/^\d{1,10}$/.test(f[1]!) || !/^\d{1,10}$/.test(f[2]!)) {
      throw new Error(`${where}: expected ${LINE_SHAPE}${epoch < 0 ? " or 'epoch 0'" : " or 'epoch N'"}, got '${clip(t)}'`);
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
    if (p >= seenIn.length) {
      const bigger = new Uint32Array(Math.max(p + 1, seenIn.length * 2));
      bigger.set(seenIn);
      seenIn = bigger;
    }
    if (seenIn[p] === epoch + 1) throw new Error(`${where}: page 0x${f[0]} is listed twice in epoch ${epoch}, expected one line per page`);
    seenIn[p] = epoch + 1;
    page.push(p);
    reads.push(r);
    writes.push(w);
    if (p > maxPage) maxPage = p;
    total += r + w;
  }

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
    totalAccesses: total,
  };
}
