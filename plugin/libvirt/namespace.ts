/** hmmv's XML namespace for domain metadata (kept dependency-free: the hook checks it before loading anything). */
export const TIERING_NS = 'http://hmmv.dev/xmlns/tiering/1';
