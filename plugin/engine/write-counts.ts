/**
 * Rounds written this window, per page: a 4-bit count (saturating at 15) kept
 * sparse or dense, whichever is smaller.
 *
 * A round counts a logged write only for the pages it saw (the sieve), so in
 * most windows few pages have a count: the hottest due pages that were also
 * written. Sparse, the counts live in an open-addressing hash table (linear
 * probing, Fibonacci hashing; 4 bytes of key and 1 of count per slot, at most
 * half full), which stays in the CPU's caches where 4-bit planes over every
 * page (16 MiB at 32 Mi pages) would not: a logged page's increment is a
 * probe or two in a small table instead of a cache miss in a large one, and
 * the window pass reads a bitmap of the written pages (marked from the table
 * into a spare bitmap, O(table)) instead of the planes. When the table would
 * grow past the planes' size (more than about one page in 20 written and
 * seen) or past what stays in the last-level cache beside the engine's other
 * streams (MAX_SPARSE_SLOTS, 2.5 MiB of the 32 MiB L3 on the machines
 * measured here: beyond it every increment and every look-up of the window
 * pass is a miss to memory, 40-70 ns), the counts move to dense bit-sliced planes interleaved by word
 * (bit k of the counts of pages 32w..32w+31 is word [4w + k]): the state is
 * then what it would be without a table, 4 bits per page. After a window with
 * few writes (a table a quarter of either limit would do) they go back.
 * The planes are the worse form while both fit: each round's increments of
 * pages in page order touch nearly every cache line of the planes (1% of the
 * pages written: 8 MiB read and written back per round at 16 Mi pages, 70% of
 * the tracker's time in a profile), where the table's lines stay in cache; so
 * the table may grow to 512 Ki slots (256 Ki written pages) before the
 * counts go dense (it was 64 Ki slots, 320 KiB, sized for a core's L2).
 *
 * The pages written in every round they were seen in have no entry at all
 * while the counts are sparse (PageState.everyWritten holds them, their count
 * implicit, except in the windows it backs off for: see tracker.ts); the
 * table holds the others. reserve() grows the table ahead of
 * a batch so its form changes only where the caller allows.
 *
 * Cost: increment and get O(1) expected; endWindow O(table) sparse (dense
 * planes are cleared by the window pass as it reads them).
 */

/** Bits of a count (saturating at 15). */
export const WRITE_COUNT_BITS = 4;

const MIN_CAPACITY = 64;
/** The largest sparse table (slots; 5 bytes each, 2.5 MiB): beyond it the counts go dense. */
const MAX_SPARSE_SLOTS = 1 << 19;
const HASH = 0x9e3779b1 | 0;

export class WriteCounts {
  /** The dense planes, once the counts went dense (else undefined). */
  dense: Uint32Array | undefined;
  /** Sparse: page + 1 per slot (0: empty). */
  private keys: Int32Array;
  private counts: Uint8Array;
  private mask: number;
  private shift: number;
  /** Pages with a count (sparse). */
  size = 0;
  private readonly denseBytes: number;

  /** `onDense`: called when the counts go dense (their planes take the room other sparse-time structures may use). */
  constructor(readonly pageCount: number, private readonly onDense: () => void = () => {}) {
    this.denseBytes = WRITE_COUNT_BITS * 4 * ((pageCount + 31) >>> 5);
    this.keys = new Int32Array(MIN_CAPACITY);
    this.counts = new Uint8Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    this.shift = 32 - Math.log2(MIN_CAPACITY);
    // A VM so small that the smallest table outweighs the planes keeps the planes.
    if (MIN_CAPACITY * 5 > this.denseBytes) this.goDense();
  }

  /** Adds one to the count of `page` (< pageCount), saturating at 15. */
  increment(page: number): void {
    const dense = this.dense;
    if (dense !== undefined) {
      incrementPlanes(dense, (page >>> 5) << 2, 1 << (page & 31));
      return;
    }
    const key = page + 1;
    const { keys, mask } = this;
    for (let i = Math.imul(page, HASH) >>> this.shift; ; i = (i + 1) & mask) {
      const k = keys[i]! | 0;
      if (k === key) {
        const c = this.counts[i]!;
        if (c < 15) this.counts[i] = c + 1;
        return;
      }
      if (k === 0) {
        keys[i] = key;
        this.counts[i] = 1;
        if (++this.size > mask >>> 1) this.grow();
        return;
      }
    }
  }

  /** The count of `page`. */
  get(page: number): number {
    const dense = this.dense;
    if (dense !== undefined) {
      const j = (page >>> 5) << 2;
      const b = page & 31;
      return ((dense[j]! >>> b) & 1) | (((dense[j + 1]! >>> b) & 1) << 1) | (((dense[j + 2]! >>> b) & 1) << 2) | (((dense[j + 3]! >>> b) & 1) << 3);
    }
    const key = page + 1;
    const { keys, mask } = this;
    for (let i = Math.imul(page, HASH) >>> this.shift; ; i = (i + 1) & mask) {
      const k = keys[i]! | 0;
      if (k === key) return this.counts[i]!;
      if (k === 0) return 0;
    }
  }

  /** Sets the count of `page` (0..15; tests and references). A sparse zero keeps its slot, unmarked. */
  set(page: number, value: number): void {
    const dense = this.dense;
    if (dense !== undefined) {
      const j = (page >>> 5) << 2;
      const bit = 1 << (page & 31);
      for (let p = 0; p < WRITE_COUNT_BITS; p++) dense[j + p] = ((value >>> p) & 1) !== 0 ? dense[j + p]! | bit : dense[j + p]! & ~bit;
      return;
    }
    const key = page + 1;
    const { keys, mask } = this;
    for (let i = Math.imul(page, HASH) >>> this.shift; ; i = (i + 1) & mask) {
      const k = keys[i]! | 0;
      if (k === key) {
        this.counts[i] = value;
        return;
      }
      if (k === 0) {
        if (value === 0) return;
        keys[i] = key;
        this.counts[i] = value;
        if (++this.size > mask >>> 1) this.grow();
        return;
      }
    }
  }

  /**
   * Makes room for `n` more pages in the sparse table (grown at once, so no
   * increment or set of up to `n` new pages grows it, or changes its form).
   * Returns false, changing nothing, when that much room takes the dense
   * form (the caller then decides when to go dense); true when dense already.
   */
  reserve(n: number): boolean {
    if (this.dense !== undefined) return true;
    let capacity = this.keys.length;
    while (this.size + n > (capacity - 1) >>> 1) capacity *= 2;
    if (capacity === this.keys.length) return true;
    if (capacity * 5 > this.denseBytes || capacity > MAX_SPARSE_SLOTS) return false;
    this.rehash(capacity);
    return true;
  }

  /** Calls fn(page, count) for every page with a count (sparse: table order; dense: page order). */
  forEach(fn: (page: number, count: number) => void): void {
    const dense = this.dense;
    if (dense !== undefined) {
      for (let w = 0; w < dense.length >>> 2; w++) {
        const j = w << 2;
        for (let x = dense[j]! | dense[j + 1]! | dense[j + 2]! | dense[j + 3]!; x !== 0; x &= x - 1) {
          const page = (w << 5) + 31 - Math.clz32(x & -x);
          fn(page, this.get(page));
        }
      }
      return;
    }
    const { keys, counts } = this;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0 && counts[i] !== 0) fn(keys[i]! - 1, counts[i]!);
  }

  /** Sparse only: sets the bit of every page with a count in `bits` (a bitmap over the pages). */
  markInto(bits: Uint32Array): void {
    const { keys, counts } = this;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]! | 0;
      if (k === 0 || counts[i] === 0) continue;
      const page = k - 1;
      bits[page >>> 5] = bits[page >>> 5]! | (1 << (page & 31));
    }
  }

  /**
   * The end of a window (the window pass has read every count): all back to
   * 0. `writtenPages` is how many pages had a count. A table that grew for a
   * busy window shrinks back; dense planes (already cleared by the pass as it
   * read them) give way to a table again after a window with few writes.
   */
  endWindow(writtenPages: number): void {
    const wanted = Math.max(MIN_CAPACITY, nextPowerOfTwo(4 * writtenPages));
    if (this.dense !== undefined) {
      if (wanted * 5 * 4 <= this.denseBytes && wanted * 4 <= MAX_SPARSE_SLOTS) {
        this.dense = undefined;
        this.allocate(wanted);
      }
      return;
    }
    if (this.size === 0) return;
    if (wanted < this.keys.length) this.allocate(wanted);
    else {
      this.keys.fill(0);
      this.size = 0;
    }
  }

  /** Every count back to 0, in either form. */
  clearAll(): void {
    if (this.dense !== undefined) this.dense.fill(0);
    else {
      this.keys.fill(0);
      this.size = 0;
    }
  }

  bytes(): number {
    return this.dense !== undefined ? this.dense.byteLength : this.keys.byteLength + this.counts.byteLength;
  }

  private grow(): void {
    const capacity = this.keys.length * 2;
    if (capacity * 5 > this.denseBytes || capacity > MAX_SPARSE_SLOTS) {
      this.goDense();
      return;
    }
    this.rehash(capacity);
  }

  private rehash(capacity: number): void {
    const { keys, counts } = this;
    this.allocate(capacity);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === 0) continue;
      this.insert(keys[i]! - 1, counts[i]!);
    }
  }

  private goDense(): void {
    const dense = new Uint32Array(this.denseBytes >>> 2);
    const { keys, counts } = this;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]! | 0;
      if (k === 0) continue;
      const page = k - 1;
      const j = (page >>> 5) << 2;
      const bit = 1 << (page & 31);
      const c = counts[i]!;
      for (let p = 0; p < WRITE_COUNT_BITS; p++) if (((c >>> p) & 1) !== 0) dense[j + p] = dense[j + p]! | bit;
    }
    this.dense = dense;
    this.onDense();
    this.keys = new Int32Array(0);
    this.counts = new Uint8Array(0);
    this.size = 0;
  }

  private allocate(capacity: number): void {
    this.keys = new Int32Array(capacity);
    this.counts = new Uint8Array(capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    this.size = 0;
  }

  private insert(page: number, count: number): void {
    const key = page + 1;
    const { keys, mask } = this;
    let i = Math.imul(page, HASH) >>> this.shift;
    while (keys[i] !== 0) i = (i + 1) & mask;
    keys[i] = key;
    this.counts[i] = count;
    this.size++;
  }
}

/** Adds one to the 4-bit counters at the bits of `mask` in the interleaved planes at [j..j+3], saturating at 15. */
export function incrementPlanes(planes: Uint32Array, j: number, mask: number): void {
  const a = planes[j]!, b = planes[j + 1]!, c = planes[j + 2]!, d = planes[j + 3]!;
  const k1 = a & mask, k2 = k1 & b, k3 = k2 & c, full = k3 & d; // full: was 15, stays 15
  planes[j] = (a ^ mask) | full;
  planes[j + 1] = (b ^ k1) | full;
  planes[j + 2] = (c ^ k2) | full;
  planes[j + 3] = (d ^ k3) | full;
}

function nextPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}
