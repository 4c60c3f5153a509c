/**
 * Two libvirt "hosts" on one machine, for live migration between them: each
 * is a libvirtd in its own mount namespace (`unshare -m`), with its own
 * /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt,
 * /etc/libvirt (and so its own host UUID and hooks), /run/hmmv and
 * /var/log/hmmv, bind-mounted from a folder of the test. Sockets and files
 * are reached from outside through those folders (a Unix socket works by its
 * inode, from any mount namespace). The machine's own libvirtd is not touched.
 *
 * QEMU runs as root without cgroups, namespaces or virtlogd (stdio to files),
 * migration data goes over 127.0.0.1 (virsh migrate --listen-address 127.0.0.1
 * --migrateuri tcp://127.0.0.1: libvirt refuses local addresses in qemu.conf) on ports of the host's own range.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { installHook } from '../../plugin/libvirt/hook-install.js';
import { run, waitFor, type Run } from '../helpers/libvirt.js';

export interface TestHost {
  /** For virsh migrate: where this host's QEMU takes incoming migration data. */
  migrateUri: string;
  name: string;
  uuid: string;
  /** The folder holding this host's private directories. */
  dir: string;
  /** libvirtd's pid (also the mount namespace's first process). */
  pid: number;
  uri: string;
  /** A path of this host (e.g. /run/hmmv/x) as seen from outside its namespace. */
  outside(p: string): string;
  virsh(args: readonly string[], timeoutMs?: number): Promise<Run>;
  stop(): Promise<void>;
}

const BINDS: [string, string][] = [
  ['run-libvirt', '/run/libvirt'],
  ['run-hmmv', '/run/hmmv'],
  ['var-lib-libvirt', '/var/lib/libvirt'],
  ['var-cache-libvirt', '/var/cache/libvirt'],
  ['var-log-libvirt', '/var/log/libvirt'],
  ['var-log-hmmv', '/var/log/hmmv'],
  ['etc-libvirt', '/etc/libvirt'],
];

export async function startTestHost(base: string, name: string, migrationPort: number): Promise<TestHost> {
  for (const tool of ['unshare', 'libvirtd', 'virsh']) {
    const r = await run('sh', ['-c', `command -v ${tool}`]);
    if (r.code !== 0) throw new Error(`${tool} not found: apt-get install util-linux libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients`);
  }
  const dir = path.join(base, name);
  for (const [d] of BINDS) mkdirSync(path.join(dir, d), { recursive: true });
  const uuid = randomUUID();
  const etc = path.join(dir, 'etc-libvirt');
  writeFileSync(
    path.join(etc, 'libvirtd.conf'),
    [`host_uuid = "${uuid}"`, 'auth_unix_rw = "none"', 'auth_unix_ro = "none"', 'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"', ''].join('\n'),
  );
  writeFileSync(
    path.join(etc, 'qemu.conf'),
    [
      'user = "root"',
      'group = "root"',
      'dynamic_ownership = 0',
      'security_driver = "none"',
      'namespaces = [ ]',
      'cgroup_controllers = [ ]',
      'stdio_handler = "file"',
      'seccomp_sandbox = 0',
      `migration_port_min = ${migrationPort}`,
      `migration_port_max = ${migrationPort + 7}`,
      '',
    ].join('\n'),
  );
  // Hooks must be in place before libvirtd starts.
  installHook({ dir: path.join(etc, 'hooks', 'qemu.d') });

  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -e',
    ...BINDS.map(([d, at]) => `mkdir -p ${at} && mount --bind ${q(path.join(dir, d))} ${at}`),
    'mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu /run/hmmv/qmp',
    'exec libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirt/libvirtd-test.pid',
  ].join('\n');
  const log = openSync(path.join(dir, 'libvirtd.stderr'), 'a');
  const child: ChildProcess = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', log, log] });
  const pid = child.pid!;
  let exited = false;
  child.on('exit', () => (exited = true));
  const socket = path.join(dir, 'run-libvirt', 'libvirt-sock');
  const uri = `qemu+unix:///system?socket=${socket}`;
  const host: TestHost = {
    name,
    uuid,
    dir,
    pid,
    uri,
    migrateUri: 'tcp://127.0.0.1',
    outside: (p: string) => {
      for (const [d, at] of BINDS) if (p === at || p.startsWith(`${at}/`)) return path.join(dir, d, p.slice(at.length));
      throw new Error(`${p} is not private to test host ${name}`);
    },
    virsh: (args, timeoutMs = 120_000) => run('virsh', ['-c', uri, ...args], { timeoutMs }),
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      await waitFor(`libvirtd of ${name} to exit`, () => exited, 30_000).catch(() => child.kill('SIGKILL'));
    },
  };
  await waitFor(
    `libvirtd of test host ${name} to answer (log: ${path.join(dir, 'libvirtd.stderr')})`,
    async () => {
      if (exited) {
        const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').slice(-1500) : '');
        throw new Error(`libvirtd of test host ${name} exited: ${tail(path.join(dir, 'libvirtd.stderr'))}${tail(path.join(dir, 'var-log-libvirt', 'libvirtd.log'))}`);
      }
      return existsSync(socket) && (await host.virsh(['version'], 30_000)).code === 0;
    },
    120_000,
  );
  return host;
}

/**
 * A tiny multiboot guest (a flat binary with the a.out-kludge header), in
 * 32-bit protected mode: first it writes one word into every page of
 * FILL_START..FILL_END (so a migration has 32 MiB of non-zero pages to send,
 * which a bandwidth limit can make last), then it increments a 64-bit counter
 * at guest-physical COUNTER_GPA forever. Reading the counter shows the guest
 * runs, and runs on with its memory, across a migration.
 */
export const COUNTER_GPA = 0x200000;
const FILL_START = 0x400000;
const FILL_END = 0x2400000;

export function counterGuestImage(): Buffer {
  const magic = 0x1badb002;
  const flags = 0x00010000; // bit 16: the address fields below are valid
  const load = 0x100000;
  const header = [magic, flags, (-(magic + flags)) >>> 0, load, load, 0, 0, load + 32];
  const code = Buffer.from([
    0xbf, ...le32(FILL_START), //               mov edi, FILL_START
    0x89, 0x3f, //                        fill: mov [edi], edi
    0x81, 0xc7, ...le32(4096), //               add edi, 4096
    0x81, 0xff, ...le32(FILL_END), //           cmp edi, FILL_END
    0x72, 0xf0, //                              jb fill
    0xff, 0x05, ...le32(COUNTER_GPA), //  loop: inc dword [lo]
    0x75, 0xf8, //                              jnz loop
    0xff, 0x05, ...le32(COUNTER_GPA + 4), //    inc dword [hi]
    0xeb, 0xf0, //                              jmp loop
  ]);
  const head = Buffer.alloc(32);
  header.forEach((v, i) => head.writeUInt32LE(v, 4 * i));
  return Buffer.concat([head, code]);
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** The guest's counter through libvirt's monitor (HMP `xp`), or undefined if the domain does not run there. */
export async function readCounter(host: TestHost, domain: string): Promise<bigint | undefined> {
  const r = await host.virsh(['qemu-monitor-command', domain, '--hmp', `xp /1gx ${COUNTER_GPA}`], 30_000);
  const m = /:\s*0x([0-9a-f]+)/i.exec(r.stdout);
  return r.code === 0 && m ? BigInt(`0x${m[1]}`) : undefined;
}
