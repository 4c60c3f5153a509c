/**
 * Where hmmv keeps per-domain runtime state. Fixed paths: the libvirt hook runs
 * with libvirtd's scrubbed environment, so nothing here may depend on env vars.
 */
import path from 'node:path';

export const RUN_DIR = '/run/hmmv';
export const QMP_DIR = '/run/hmmv/qmp';
export const LOG_DIR = '/var/log/hmmv';
/** The host's DRAM pool daemon (`hmmv pool`); a domain's metadata may name another. */
export const DEFAULT_POOL_SOCKET = '/run/hmmv/pool.sock';

/** libvirt domain names may hold almost anything but '/'; keep file names tame. */
function fileStem(domain: string): string {
  if (domain === '' || domain.includes('/') || domain.includes('\0')) throw new Error(`unusable domain name '${domain}'`);
  return domain;
}

export const pidfilePath = (domain: string) => path.join(RUN_DIR, `${fileStem(domain)}.pid`);
export const statusPath = (domain: string) => path.join(RUN_DIR, `${fileStem(domain)}.status.json`);
/** The domain XML the hook saw at `started`, for the manager to read (it never asks libvirtd). */
export const domainXmlPath = (domain: string) => path.join(RUN_DIR, `${fileStem(domain)}.xml`);
/** Written by the hook's `migrate` step (this host accepted an incoming migration), read by the manager started next. */
export const incomingMarkerPath = (domain: string) => path.join(RUN_DIR, `${fileStem(domain)}.incoming`);
export const logPath = (domain: string) => path.join(LOG_DIR, `${fileStem(domain)}.log`);
export const defaultQmpSocket = (domain: string) => path.join(QMP_DIR, `${fileStem(domain)}.sock`);
