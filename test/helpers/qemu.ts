/**
 * Test helper: start a real `qemu-system-x86_64` (q35, TCG) with a QMP unix
 * socket in its own temp dir, wait for the socket, and always kill that QEMU
 * by pid (stop(), or at process exit if a test forgot). Ready means QEMU
 * answered `query-status` on a second, helper-only QMP socket.
 *
 * Default machine: 256 MiB in two NUMA nodes, each on its own memory backend:
 * node 0 `dram0` (memory-backend-ram), node 1 `nvm0` (memory-backend-file, the
 * stand-in for NVM); `-m 256,slots=4,maxmem=1G` so DIMMs can be hot-added.
 *
 *   const qemu = await startQemu();
 *   try { ... QmpClient.connect({ path: qemu.qmpSocketPath }) ... } finally { await qemu.stop(); }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { QmpClient } from '../../qmp/client.js';

export interface QemuNumaNode {
  /** Memory backend id, also the RAM block name (e.g. `dram0`). */
  memdev: string;
  backend: 'ram' | 'file' | 'memfd';
  sizeMiB: number;
}

export interface StartQemuOptions {
  /** Default: dram0 (ram, 128 MiB) + nvm0 (file, 128 MiB). `[]` gives a machine without NUMA. */
  numaNodes?: QemuNumaNode[];
  /** Boot memory; default the sum of the NUMA nodes (or 256 without nodes). */
  memoryMiB?: number;
  /** Hotplug slots (default 4) and maximum memory (default 1024 MiB). */
  slots?: number;
  maxMemMiB?: number;
  /** vCPUs; default one per NUMA node (at least 1), spread over the nodes. */
  cpus?: number;
  /** Start paused with -S (default true: no guest needed for QMP tests). */
  paused?: boolean;
  /** Put the QMP unix socket here instead of <dir>/qmp.sock (e.g. to restart QEMU on the same path). */
  qmpSocketPath?: string;
  /** Also listen for QMP on TCP 127.0.0.1:<free port> (reported as qmpTcpPort). */
  qmpTcp?: boolean;
  /** More arguments, appended last (devices, -kernel/-initrd/-append, ...). */
  extraArgs?: string[];
  /** Bound for QEMU to be ready (answering QMP), default 20000 ms. */
  startTimeoutMs?: number;
  /** QEMU binary; default $QEMU_BINARY or qemu-system-x86_64 from PATH. */
  binary?: string;
}

export interface QemuInstance {
  pid: number;
  qmpSocketPath: string;
  qmpTcpPort: number | undefined;
  /** Private temp dir (memory-backend files, logs); removed by stop(). */
  dir: string;
  /** memdev id → backing file, for the file backends. */
  backingFiles: Record<string, string>;
  /** The full argument list QEMU was started with. */
  args: string[];
  /** Everything QEMU printed so far (stdout+stderr, includes the serial console with -nographic). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** Kill this QEMU (SIGTERM, then SIGKILL after 3 s) and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export const QEMU_INSTALL_HINT =
  'install QEMU: apt-get update && apt-get install -y --no-install-recommends qemu-system-x86';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
});

export const DEFAULT_NUMA_NODES: readonly QemuNumaNode[] = [
  { memdev: 'dram0', backend: 'ram', sizeMiB: 128 },
  { memdev: 'nvm0', backend: 'file', sizeMiB: 128 },
];

/** Find the QEMU binary or throw an error saying what to install. */
export function findQemuBinary(binary = process.env['QEMU_BINARY'] ?? 'qemu-system-x86_64'): string {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env['PATH'] ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, binary));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  throw new Error(`${binary} not found (looked in PATH); ${QEMU_INSTALL_HINT}`);
}

function findSetpriv(): string | undefined {
  for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startQemu(options: StartQemuOptions = {}): Promise<QemuInstance> {
  const binary = findQemuBinary(options.binary);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-qemu-'));
  const qmpSocketPath = options.qmpSocketPath ?? path.join(dir, 'qmp.sock');
  const nodes = options.numaNodes ?? DEFAULT_NUMA_NODES;
  const memoryMiB = options.memoryMiB ?? (nodes.length > 0 ? nodes.reduce((sum, n) => sum + n.sizeMiB, 0) : 256);
  const cpus = options.cpus ?? Math.max(1, nodes.length);
  const qmpTcpPort = options.qmpTcp ? await freeTcpPort() : undefined;

  const args = [
    '-machine', 'q35,accel=tcg',
    '-nographic', '-display', 'none',
    // Named threads ("CPU 0/TCG", ...) make vCPU threads recognisable in /proc.
    '-name', 'hmmv-test,debug-threads=on',
    '-m', `${memoryMiB},slots=${options.slots ?? 4},maxmem=${options.maxMemMiB ?? 1024}M`,
    '-smp', String(cpus),
  ];
  if (options.paused ?? true) args.push('-S');
  const backingFiles: Record<string, string> = {};
  nodes.forEach((node, i) => {
    const size = `size=${node.sizeMiB}M`;
    if (node.backend === 'ram') args.push('-object', `memory-backend-ram,id=${node.memdev},${size}`);
    else if (node.backend === 'memfd') args.push('-object', `memory-backend-memfd,id=${node.memdev},${size}`);
    else {
      const file = path.join(dir, `${node.memdev}.img`);
      backingFiles[node.memdev] = file;
      args.push('-object', `memory-backend-file,id=${node.memdev},${size},mem-path=${file},share=on`);
    }
    const nodeCpus = Array.from({ length: cpus }, (_, c) => c).filter((c) => c % nodes.length === i);
    const cpuArgs = nodeCpus.map((c) => `,cpus=${c}`).join('');
    args.push('-numa', `node,nodeid=${i},memdev=${node.memdev}${cpuArgs}`);
  });
  // TCP first: monitors are created in command-line order, so once the unix
  // socket exists the TCP listener does too.
  if (qmpTcpPort !== undefined) args.push('-qmp', `tcp:127.0.0.1:${qmpTcpPort},server=on,wait=off`);
  args.push('-qmp', `unix:${qmpSocketPath},server=on,wait=off`);
  // The helper's own monitor for the readiness probe, so the probe never
  // occupies the test's one-client socket (a reconnecting client may be
  // racing for it).
  const probeSocketPath = path.join(dir, 'probe.qmp.sock');
  args.push('-qmp', `unix:${probeSocketPath},server=on,wait=off`);
  args.push(...(options.extraArgs ?? []));

  // A socket left by an earlier, killed QEMU at a caller-chosen path would
  // look "ready" before this QEMU listens.
  rmSync(qmpSocketPath, { force: true });
  // setpriv (util-linux, always on Debian) sets the parent-death signal and
  // execs QEMU in place, so the pid is QEMU's and QEMU dies with this test
  // process even if mocha is killed outright.
  const setpriv = findSetpriv();
  const child = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const chunks: string[] = [];
  let outputBytes = 0;
  const log = createWriteStream(path.join(dir, 'qemu.log'));
  const collect = (data: Buffer): void => {
    log.write(data);
    const text = data.toString('utf8');
    chunks.push(text);
    outputBytes += text.length;
    while (outputBytes > 1 << 20 && chunks.length > 1) outputBytes -= chunks.shift()!.length;
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const output = (): string => chunks.join('');

  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      running = false;
      live.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (running && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (running && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        }, 3000);
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(resolve));
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  // Ready = QEMU answers a command on the probe socket: sockets appear before
  // the machine is built (a bad -device makes QEMU exit after that), and
  // commands are only dispatched once the main loop runs, after every
  // monitor (the test's socket included) exists.
  const timeoutMs = options.startTimeoutMs ?? 20000;
  const deadline = Date.now() + timeoutMs;
  const fail = async (problem: string): Promise<never> => {
    const out = output();
    await stop();
    throw new Error(`${problem}\nargs: ${args.join(' ')}\noutput:\n${out}`);
  };
  for (;;) {
    if (spawnError) {
      await stop();
      throw new Error(`cannot start ${binary}: ${spawnError.message}; ${QEMU_INSTALL_HINT}`);
    }
    if (!running) await fail('QEMU exited before its QMP socket was ready.');
    if (Date.now() > deadline) await fail(`QEMU's QMP socket ${qmpSocketPath} was not ready within ${timeoutMs} ms.`);
    if (existsSync(probeSocketPath)) {
      try {
        const probe = await QmpClient.connect({ path: probeSocketPath }, { greetingTimeoutMs: Math.max(100, deadline - Date.now()) });
        try {
          await probe.execute('query-status', undefined, { timeoutMs: Math.max(100, deadline - Date.now()) });
        } finally {
          await probe.close();
        }
        break;
      } catch {
        // Probably exiting: give the exit a moment to be seen, then re-check.
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 200))]);
        continue;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  return {
    pid: child.pid!,
    qmpSocketPath,
    qmpTcpPort,
    dir,
    backingFiles,
    args,
    output,
    exited,
    isRunning: () => running,
    stop,
  };
}
