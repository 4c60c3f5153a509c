/** Wire-level QMP types: addresses, greeting, events. */

/** Where QEMU's QMP server listens: a unix socket path, or TCP (loopback). */
export type QmpAddress = { path: string } | { host: string; port: number };

export function describeAddress(address: QmpAddress): string {
  return 'path' in address ? `unix:${address.path}` : `tcp:${address.host}:${address.port}`;
}

/** QAPI `VersionInfo`. */
export interface QmpVersionInfo {
  qemu: { major: number; minor: number; micro: number };
  package: string;
}

/** The `{"QMP": {...}}` greeting QEMU sends on connect. */
export interface QmpGreeting {
  version: QmpVersionInfo;
  /** Capabilities QEMU offers, e.g. `["oob"]`. */
  capabilities: string[];
}

/** An asynchronous QMP event, with QEMU's timestamp (host wall clock at emission). */
export interface QmpEvent<D = Record<string, unknown>> {
  event: string;
  data: D;
  timestamp: { seconds: number; microseconds: number };
}

export function formatVersion(v: QmpVersionInfo): string {
  return `${v.qemu.major}.${v.qemu.minor}.${v.qemu.micro}${v.package ? ` (${v.package.trim()})` : ''}`;
}
