/**
 * What `hmmv --version` tells: the package version and the two interfaces
 * other installs of hmmv must agree on — the pool wire protocol (managers and
 * the pool daemon of one host may come from different installs during an
 * upgrade) and the metadata namespace (domain XML written by one version,
 * migrated to a host running another).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TIERING_NS } from '../libvirt/namespace.js';
import { PROTOCOL_VERSION, packageRoot } from '../pool/wire.js';

export interface VersionInfo {
  name: string;
  version: string;
  poolProtocol: number;
  metadataNamespace: string;
  /** Where this copy of hmmv is installed, and the Node.js running it. */
  packageRoot: string;
  node: { version: string; execPath: string };
}

/** Never throws: a copy of dist/ without its package.json (e.g. in a test guest) reports 'unknown'. */
export function versionInfo(): VersionInfo {
  let root = 'unknown';
  let pkg = { name: 'hmmv', version: 'unknown' };
  try {
    root = packageRoot();
    pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  } catch {
    // keep 'unknown'
  }
  return {
    name: pkg.name,
    version: pkg.version,
    poolProtocol: PROTOCOL_VERSION,
    metadataNamespace: TIERING_NS,
    packageRoot: root,
    node: { version: process.version, execPath: process.execPath },
  };
}

export function versionText(v = versionInfo()): string {
  return [
    `${v.name} ${v.version}`,
    `pool protocol ${v.poolProtocol}`,
    `metadata namespace ${v.metadataNamespace}`,
    `installed in ${v.packageRoot} (node ${v.node.version}, ${v.node.execPath})`,
  ].join('\n');
}
