/**
 * Converts the memory trace of valgrind's lackey tool
 * (`valgrind --tool=lackey --trace-mem=yes`) into the trace format, streaming:
 * memory use is one epoch plus one entry per distinct page, however long the
 * lackey output is.
 *
 * Lackey writes one line per access: 'I  addr,size' (instruction fetch),
 * ' L addr,size' (load), ' S addr,size' (store), ' M addr,size' (modify: a load
 * and a store). Lines of valgrind itself ('==pid== ...', '--pid-- ...') are
 * skipped; anything else is an error naming the line.
 *
 * - Addresses map to 4 KiB pages, renumbered densely 0, 1, 2, ... in address
 *   order (so the footprint is exactly the pages touched, however sparse the
 *   program's address space: a heap at 0x601000 and a stack at 0x7ff000000
 *   become neighbours; the header says renumbered=address-order and gives
 *   the original span as address_span_pages). Epochs are written as they
 *   close with provisional first-seen numbers; the final file maps them to
 *   address order in one streaming pass (finish).
 * - Each page line also gives the number of distinct 64 B lines of the page
 *   the epoch touched (header line_size=64), from a 64-bit mask per page.
 * - L counts one read, S one write, M one read and one write. An access that
 *   spans two pages counts on both. Instruction fetches are not data accesses:
 *   they are counted as instructions (for cpu_ns_per_op) and only recorded as
 *   reads with includeInstructions.
 * - Optionally (cacheKib > 0) accesses first go through a 16-way LRU
 *   write-back cache of 64-byte lines of that size, and only memory traffic is
 *   recorded: a load miss is a read; a store that misses or that first dirties
 *   a clean line is a write (the write-back it will cause, counted when the
 *   line is dirtied, which is when a dirty log would see it); loads that hit
 *   and stores to already dirty lines are not recorded.
 * - A new epoch starts every epochAccesses recorded accesses.
 * - cpu_ns_per_op = instructions × nsPerInstruction / recorded accesses:
 *   the CPU time between two recorded accesses when replayed one per op.
 */
import { clip, TRACE_PAGE_SIZE, type TraceHeader } from './header.js';
import { StreamingTraceWriter } from './writer.js';
import { popcount32 } from '../../util/bitmap.js';

/** Bytes per cache line, for the distinct-lines count. */
const LINE = 64;

export interface LackeyOptions {
  /** Trace name for the header. */
  name: string;
  /** Recorded accesses per epoch. */
  epochAccesses: number;
  /** Record instruction fetches as reads (default false). */
  includeInstructions?: boolean;
  /** Size of the LRU cache filter in KiB; 0 (default) records every access. */
  cacheKib?: number;
  /** CPU time per instruction for cpu_ns_per_op (default 0.33 ns: IPC 1 at 3 GHz). */
  nsPerInstruction?: number;
  /** Names the input in error messages (default 'stdin'). */
  inputName?: string;
}

export interface LackeySummary {
  header: TraceHeader;
  lines: number;
  instructions: number;
  accesses: number;
  pages: number;
  epochs: number;
}

const LINE_SHAPE = "a lackey line 'I|L|S|M <hex address>,<size>' (from valgrind --tool=lackey --trace-mem=yes)";

/** Reads lackey output from `input` and writes the trace to `outPath` (atomically; .gz compresses). */
export async function convertLackey(input: AsyncIterable<Buffer | string>, outPath: string, options: LackeyOptions): Promise<LackeySummary> {
  const converter = new LackeyConverter(options);
  const writer = new StreamingTraceWriter(outPath);
  try {
    let rest = '';
    for await (const chunk of input) {
      const text = rest + (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
      let start = 0;
      for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
        converter.line(text.slice(start, nl));
        start = nl + 1;
      }
      rest = text.slice(start);
      await converter.writeClosedEpochs(writer);
    }
    if (rest !== '') converter.line(rest);
    converter.closeEpoch();
    await converter.writeClosedEpochs(writer);
    const summary = converter.summary(writer.epochCount);
    await writer.finish(summary.header, converter.addressOrder());
    return summary;
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

class LackeyConverter {
  private readonly opts: Required<LackeyOptions>;
  /** Virtual page number -> provisional page index (first-seen order). */
  private readonly pageIndex = new Map<number, number>();
  /** Provisional index -> virtual page number. */
  private vpnOf = new Float64Array(1024);
  /** Per provisional page: reads and writes in the current epoch (grown as pages appear). */
  private reads: Uint32Array = new Uint32Array(1024);
  private writes: Uint32Array = new Uint32Array(1024);
  /** Per provisional page: the lines touched in the current epoch, as a 64-bit mask in two words. */
  private linesLo: Uint32Array = new Uint32Array(1024);
  private linesHi: Uint32Array = new Uint32Array(1024);
  /** Pages touched in the current epoch, and how many accesses it holds. */
  private touched: Uint32Array = new Uint32Array(1024);
  private touchedCount = 0;
  private epochFill = 0;
  private lineNo = 0;
  private instructions = 0;
  private accesses = 0;
  private readonly cache: LruCache | null;
  /** Epochs closed but not yet written (at most those of one input chunk). */
  private closed: { pages: Uint32Array; reads: Uint32Array; writes: Uint32Array; lines: Uint8Array }[] = [];

  constructor(options: LackeyOptions) {
    if (!/^[^\s=]+$/.test(options.name)) throw new Error(`trace name must be one word without '=', got '${options.name}'`);
    if (!Number.isInteger(options.epochAccesses) || options.epochAccesses < 1) {
      throw new Error(`epoch accesses must be a positive integer, got ${options.epochAccesses}`);
    }
    this.opts = {
      includeInstructions: false,
      cacheKib: 0,
      nsPerInstruction: 0.33,
      inputName: 'stdin',
      ...options,
    };
    if (!Number.isInteger(this.opts.cacheKib) || this.opts.cacheKib < 0) throw new Error(`cache size must be a whole number of KiB >= 0, got ${this.opts.cacheKib}`);
    if (!(this.opts.nsPerInstruction >= 0)) throw new Error(`ns per instruction must be >= 0, got ${this.opts.nsPerInstruction}`);
    this.cache = this.opts.cacheKib > 0 ? new LruCache(this.opts.cacheKib * 1024) : null;
  }

  line(raw: string): void {
    this.lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // Lackey's own lines: 'I  addr,size' or ' X addr,size' with X in L, S, M.
    let kind: string;
    let rest: string;
    if (line.startsWith('I  ')) {
      kind = 'I';
      rest = line.slice(3);
    } else if (line.length > 3 && line[0] === ' ' && line[2] === ' ' && (line[1] === 'L' || line[1] === 'S' || line[1] === 'M')) {
      kind = line[1]!;
      rest = line.slice(3);
    } else {
      const t = line.trim();
      if (t === '' || t.startsWith('==') || t.startsWith('--')) return;
      throw this.error(line);
    }
    const comma = rest.indexOf(',');
    const hex = comma > 0 ? rest.slice(0, comma).trim() : '';
    const size = comma > 0 ? Number(rest.slice(comma + 1)) : NaN;
    if (!/^[0-9a-fA-F]{1,16}$/.test(hex) || !Number.isInteger(size) || size < 0) throw this.error(line);
    const addr = parseInt(hex, 16);
    if (addr > Number.MAX_SAFE_INTEGER) throw new Error(`${this.where()}: address 0x${hex} is beyond 2^53, which this converter does not handle`);
    if (kind === 'I') {
      this.instructions++;
      if (this.opts.includeInstructions) this.access(addr, size, false);
      return;
    }
    if (kind === 'L' || kind === 'M') this.access(addr, size, false);
    if (kind === 'S' || kind === 'M') this.access(addr, size, true);
  }

  private access(addr: number, size: number, write: boolean): void {
    const last = addr + Math.max(size, 1) - 1;
    if (this.cache && !this.cache.reachesMemory(addr, last, write)) return;
    const firstPage = Math.floor(addr / TRACE_PAGE_SIZE);
    const lastPage = Math.floor(last / TRACE_PAGE_SIZE);
    const firstLine = Math.floor((addr % TRACE_PAGE_SIZE) / LINE);
    const lastLine = Math.floor((last % TRACE_PAGE_SIZE) / LINE);
    if (lastPage === firstPage) this.count(firstPage, write, firstLine, lastLine);
    else {
      this.count(firstPage, write, firstLine, TRACE_PAGE_SIZE / LINE - 1);
      this.count(lastPage, write, 0, lastLine);
    }
  }

  private count(vpn: number, write: boolean, firstLine: number, lastLine: number): void {
    let p = this.pageIndex.get(vpn);
    if (p === undefined) {
      p = this.pageIndex.size;
      this.pageIndex.set(vpn, p);
      if (p >= this.reads.length) this.grow();
      this.vpnOf[p] = vpn;
    }
    if (this.reads[p] === 0 && this.writes[p] === 0) {
      if (this.touchedCount === this.touched.length) this.touched = grown(this.touched);
      this.touched[this.touchedCount++] = p;
    }
    if (write) this.writes[p]!++;
    else this.reads[p]!++;
    for (let l = firstLine; l <= lastLine; l++) {
      if (l < 32) this.linesLo[p]! |= 1 << l;
      else this.linesHi[p]! |= 1 << (l - 32);
    }
    this.accesses++;
    if (++this.epochFill === this.opts.epochAccesses) this.closeEpoch();
  }

  private grow(): void {
    this.reads = grown(this.reads);
    this.writes = grown(this.writes);
    this.linesLo = grown(this.linesLo);
    this.linesHi = grown(this.linesHi);
    const v = new Float64Array(this.vpnOf.length * 2);
    v.set(this.vpnOf);
    this.vpnOf = v;
  }

  /** Ends the current epoch (pages in address order) and starts the next. */
  closeEpoch(): void {
    if (this.touchedCount === 0) return;
    const n = this.touchedCount;
    const vpns = new Float64Array(n);
    for (let i = 0; i < n; i++) vpns[i] = this.vpnOf[this.touched[i]!]!;
    vpns.sort();
    const pages = new Uint32Array(n);
    const r = new Uint32Array(n);
    const w = new Uint32Array(n);
    const lines = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = this.pageIndex.get(vpns[i]!)!;
      pages[i] = p;
      r[i] = this.reads[p]!;
      w[i] = this.writes[p]!;
      lines[i] = popcount32(this.linesLo[p]!) + popcount32(this.linesHi[p]!);
      this.reads[p] = 0;
      this.writes[p] = 0;
      this.linesLo[p] = 0;
      this.linesHi[p] = 0;
    }
    this.touchedCount = 0;
    this.epochFill = 0;
    this.closed.push({ pages, reads: r, writes: w, lines });
  }

  /** Provisional index -> final index: the rank of the page's address among all pages touched. */
  addressOrder(): Uint32Array {
    const n = this.pageIndex.size;
    const vpns = this.vpnOf.slice(0, n).sort();
    const order = new Uint32Array(n);
    for (let rank = 0; rank < n; rank++) order[this.pageIndex.get(vpns[rank]!)!] = rank;
    return order;
  }

  async writeClosedEpochs(writer: StreamingTraceWriter): Promise<void> {
    const closed = this.closed;
    this.closed = [];
    for (const e of closed) await writer.writeEpoch(e.pages, e.reads, e.writes, e.pages.length, e.lines);
  }

  summary(epochs: number): LackeySummary {
    if (this.accesses === 0) {
      throw new Error(
        `${this.opts.inputName}: no memory accesses in ${this.lineNo} lines of input; expected the output of valgrind --tool=lackey --trace-mem=yes`,
      );
    }
    const cpuNs = (this.instructions * this.opts.nsPerInstruction) / this.accesses;
    let lowest = Infinity;
    let highest = -Infinity;
    for (let i = 0; i < this.pageIndex.size; i++) {
      lowest = Math.min(lowest, this.vpnOf[i]!);
      highest = Math.max(highest, this.vpnOf[i]!);
    }
    const header: TraceHeader = {
      name: this.opts.name,
      page_size: TRACE_PAGE_SIZE,
      epoch_accesses: this.opts.epochAccesses,
      pages: this.pageIndex.size,
      epochs,
      accesses: this.accesses,
      instructions: this.instructions,
      cpu_ns_per_op: Math.round(cpuNs * 1000) / 1000,
      accesses_per_op: 1,
      line_size: LINE,
      renumbered: 'address-order',
      address_span_pages: highest - lowest + 1,
      source: this.opts.includeInstructions ? 'lackey-with-ifetch' : 'lackey',
    };
    if (this.opts.cacheKib > 0) header.cache_kib = this.opts.cacheKib;
    return { header, lines: this.lineNo, instructions: this.instructions, accesses: this.accesses, pages: this.pageIndex.size, epochs };
  }

  private where(): string {
    return `${this.opts.inputName}:${this.lineNo}`;
  }

  private error(line: string): Error {
    return new Error(`${this.where()}: expected ${LINE_SHAPE}, got '${clip(line)}'`);
  }
}

function grown(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/**
 * A set-associative LRU write-back cache of 64-byte lines (16 ways), tracking
 * tags and dirty bits only.
 */
class LruCache {
  private static readonly LINE = 64;
  private static readonly WAYS = 16;
  private readonly sets: number;
  private readonly tags: Float64Array;
  private readonly stamps: Float64Array;
  private readonly dirty: Uint8Array;
  private clock = 0;

  constructor(bytes: number) {
    this.sets = Math.max(1, Math.floor(bytes / LruCache.LINE / LruCache.WAYS));
    this.tags = new Float64Array(this.sets * LruCache.WAYS).fill(-1);
    this.stamps = new Float64Array(this.sets * LruCache.WAYS);
    this.dirty = new Uint8Array(this.sets * LruCache.WAYS);
  }

  /**
   * Whether an access to bytes [first, last] causes memory traffic: a load
   * that misses on any line, or a store that misses or dirties a clean line.
   */
  reachesMemory(first: number, last: number, store: boolean): boolean {
    let traffic = false;
    for (let line = Math.floor(first / LruCache.LINE); line <= Math.floor(last / LruCache.LINE); line++) {
      if (this.touch(line, store)) traffic = true;
    }
    return traffic;
  }

  private touch(line: number, store: boolean): boolean {
    const base = (line % this.sets) * LruCache.WAYS;
    let victim = base;
    this.clock++;
    for (let i = base; i < base + LruCache.WAYS; i++) {
      if (this.tags[i] === line) {
        this.stamps[i] = this.clock;
        if (!store || this.dirty[i]) return false;
        this.dirty[i] = 1;
        return true;
      }
      if (this.stamps[i]! < this.stamps[victim]!) victim = i;
    }
    this.tags[victim] = line;
    this.stamps[victim] = this.clock;
    this.dirty[victim] = store ? 1 : 0;
    return true;
  }
}
