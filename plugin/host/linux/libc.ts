/**
 * The C library through koffi, loaded once: the few calls Node has no API for
 * (move_pages and the PAGEMAP_SCAN ioctl through syscall(), flock). Throws a
 * clear error when koffi or its prebuilt binary is missing.
 */
import { createRequire } from 'node:module';
import type { LibraryHandle } from 'koffi';

const require = createRequire(import.meta.url);

export interface Libc {
  readonly koffi: typeof import('koffi');
  readonly lib: LibraryHandle;
  /** errno of the last call made through koffi on this thread. */
  errno(): number;
}

let libc: Libc | undefined;

export function loadLibc(): Libc {
  if (libc) return libc;
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi') as typeof import('koffi');
  } catch (err) {
    throw new Error(`the koffi package is not installed or its prebuilt binary does not load here (npm install koffi): ${(err as Error).message}`);
  }
  const lib = koffi.load('libc.so.6');
  libc = { koffi, lib, errno: () => koffi.errno() };
  return libc;
}
