/**
 * Sizes the way libvirt writes them: a number with an optional unit, where
 * K/KiB/M/MiB/... are powers of 1024 and KB/MB/GB/TB are powers of 1000, and a
 * bare number (or "b"/"bytes") is bytes. Case-insensitive, as in libvirt.
 */
const UNIT_BYTES: ReadonlyMap<string, number> = new Map([
  ['', 1], ['b', 1], ['bytes', 1],
  ['k', 1024], ['kib', 1024], ['kb', 1000],
  ['m', 1024 ** 2], ['mib', 1024 ** 2], ['mb', 1000 ** 2],
  ['g', 1024 ** 3], ['gib', 1024 ** 3], ['gb', 1000 ** 3],
  ['t', 1024 ** 4], ['tib', 1024 ** 4], ['tb', 1000 ** 4],
]);

export const SIZE_FORM = 'a size like 2GiB, 512MiB, 1048576KiB or 2147483648 (plain bytes)';

/** Bytes in `text`, or an Error message (without the location) saying what is wrong. */
export function parseSize(text: string): number | string {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return `expected ${SIZE_FORM}, got '${text}'`;
  const unit = UNIT_BYTES.get(m[2]!.toLowerCase());
  if (unit === undefined) return `unknown unit '${m[2]}' in '${text}' (use b, KiB, MiB, GiB, TiB, KB, MB, GB or TB)`;
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) return `'${text}' is too large`;
  return bytes;
}

/** The shortest exact libvirt form of `bytes` ("2GiB", "1536MiB", "4097"). */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= mult && bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}
