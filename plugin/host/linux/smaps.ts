/**
 * /proc/PID/smaps parsing (pure): one entry per mapping with its address
 * range and the "Key: N kB" fields, and the transparent-huge-page bytes inside
 * a set of guest-RAM ranges. smaps says how much of a mapping is in huge pages,
 * not where: where is read with PAGEMAP_SCAN (huge-pages.ts).
 */

export interface SmapsEntry {
  readonly start: bigint;
  readonly end: bigint;
  /** Field name -> bytes, for the "Key:   N kB" lines (Rss, AnonHugePages, KernelPageSize, ...). */
  readonly kb: ReadonlyMap<string, number>;
}

export function parseSmaps(text: string): SmapsEntry[] {
  const out: SmapsEntry[] = [];
  let kb: Map<string, number> | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (head) {
      kb = new Map();
      out.push({ start: BigInt('0x' + head[1]), end: BigInt('0x' + head[2]), kb });
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (field && kb) kb.set(field[1]!, Number(field[2]) * 1024);
  }
  return out;
}

/** Bytes in transparent huge pages (AnonHugePages + ShmemPmdMapped + FilePmdMapped) of the mappings that overlap `ranges`. */
export function thpBytesIn(entries: readonly SmapsEntry[], ranges: readonly { readonly start: bigint; readonly lengthBytes: number }[]): number {
  let total = 0;
  for (const e of entries) {
    if (!ranges.some((r) => e.start < r.start + BigInt(r.lengthBytes) && e.end > r.start)) continue;
    total += (e.kb.get('AnonHugePages') ?? 0) + (e.kb.get('ShmemPmdMapped') ?? 0) + (e.kb.get('FilePmdMapped') ?? 0);
  }
  return total;
}
