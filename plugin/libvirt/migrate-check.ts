/**
 * The hook's `migrate` step, on the destination host of a live migration:
 * libvirtd runs it before it starts the incoming QEMU, with the domain XML on
 * stdin; a non-zero exit cancels the migration and libvirt shows our stderr
 * to whoever asked for it (virsh, Nova, KubeVirt). The domain keeps running
 * on the source.
 *
 * hmmv honours a domain on this host when
 *   - its metadata is valid here (the same check as `prepare`),
 *   - its slow tier exists here: the NUMA node is online with memory, or the
 *     devdax path is a character device (backend `sim` needs neither),
 *   - the host's DRAM pool daemon answers on the metadata's pool socket.
 * The manager itself starts at `started`, as for any start, and waits for the
 * incoming guest to run before it moves a page.
 */
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { TieringConfig } from '../runtime/tiering-config.js';

/** What the check asks of the host; tests give a sysfs root or fakes. */
export interface HostProbe {
  /** Nodes with memory (sysfs `has_memory`), or undefined when unreadable. */
  nodesWithMemory(): Set<number> | undefined;
  /** Undefined when `path` is a character device, else why not. */
  devdaxProblem(path: string): string | undefined;
  /** Undefined when a server accepts connections on the Unix socket, else why not. */
  poolProblem(socket: string, timeoutMs: number): Promise<string | undefined>;
}

/** "0-1,3" -> {0, 1, 3} (the kernel's node list format). */
export function parseNodeList(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a node list: '${text.trim()}'`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let n = lo; n <= hi; n++) out.add(n);
  }
  return out;
}

export function realHostProbe(sysfsNodeDir = '/sys/devices/system/node'): HostProbe {
  return {
    nodesWithMemory() {
      try {
        return parseNodeList(readFileSync(path.join(sysfsNodeDir, 'has_memory'), 'utf8'));
      } catch {
        return undefined;
      }
    },
    devdaxProblem(p) {
      try {
        return statSync(p).isCharacterDevice() ? undefined : 'is not a character device';
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be checked (${(error as Error).message})`;
      }
    },
    poolProblem(socket, timeoutMs) {
      return new Promise((resolve) => {
        const s = net.connect(socket);
        const done = (why: string | undefined) => {
          clearTimeout(timer);
          s.destroy();
          resolve(why);
        };
        const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
        s.once('connect', () => done(undefined));
        s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'nothing listens there' : e.message));
      });
    },
  };
}

/** The reasons this host cannot honour the domain's metadata; empty when it can. */
export async function incomingMigrationProblems(config: TieringConfig, probe: HostProbe = realHostProbe(), poolTimeoutMs = 1000): Promise<string[]> {
  const problems: string[] = [];
  const tier = config.slowTier;
  if (config.backend !== 'sim' && tier) {
    if ('numaNode' in tier) {
      const nodes = probe.nodesWithMemory();
      if (!nodes) problems.push(`the slow tier is NUMA node ${tier.numaNode}, and this host's NUMA nodes cannot be read`);
      else if (!nodes.has(tier.numaNode))
        problems.push(`the slow tier is NUMA node ${tier.numaNode}, which this host does not have with memory (nodes with memory: ${[...nodes].sort((a, b) => a - b).join(',') || 'none'})`);
    } else {
      const why = probe.devdaxProblem(tier.devdax);
      if (why) problems.push(`the slow tier is ${tier.devdax}, which ${why} on this host`);
    }
  }
  const poolWhy = await probe.poolProblem(config.pool.socket, poolTimeoutMs);
  if (poolWhy) problems.push(`the DRAM pool daemon does not answer on ${config.pool.socket} (${poolWhy}): start it (systemctl start hmmv-pool)`);
  return problems;
}
