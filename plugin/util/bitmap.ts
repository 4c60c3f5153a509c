/**
 * Bitmaps over page indices: one bit per page in a Uint32Array (bit i lives in
 * word i >>> 5). 16 Mi pages take 2 MiB. Every per-page flag of the engine and
 * the hosts is one of these, never an object per page.
 */
export type Bitmap = Uint32Array;

export function createBitmap(bits: number): Bitmap {
  return new Uint32Array((bits + 31) >>> 5);
}

export function bitmapGet(map: Bitmap, i: number): boolean {
  return (map[i >>> 5]! & (1 << (i & 31))) !== 0;
}

export function bitmapSet(map: Bitmap, i: number): void {
  map[i >>> 5]! |= 1 << (i & 31);
}

export function bitmapClear(map: Bitmap, i: number): void {
  map[i >>> 5]! &= ~(1 << (i & 31));
}

/** Sets bits [0, bits) and leaves the tail of the last word clear. */
export function bitmapFill(map: Bitmap, bits: number): void {
  const fullWords = bits >>> 5;
  map.fill(0xffffffff, 0, fullWords);
  map.fill(0, fullWords);
  const rest = bits & 31;
  if (rest !== 0) map[fullWords] = (1 << rest) - 1;
}

/** map &= mask, word by word. */
export function bitmapAndInPlace(map: Bitmap, mask: Bitmap): void {
  for (let w = 0; w < map.length; w++) map[w] = map[w]! & mask[w]!;
}

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function bitmapCount(map: Bitmap): number {
  let n = 0;
  for (let w = 0; w < map.length; w++) {
    const x = map[w]!;
    if (x !== 0) n += popcount32(x);
  }
  return n;
}

/** Calls fn(i) for every set bit, in increasing order; skips empty words. */
export function bitmapForEach(map: Bitmap, fn: (i: number) => void): void {
  for (let w = 0; w < map.length; w++) {
    let x = map[w]!;
    while (x !== 0) {
      const low = x & -x;
      fn((w << 5) + 31 - Math.clz32(low));
      x ^= low;
    }
  }
}

