/**
 * How long libvirtd waits for hmmv's hook per lifecycle step (node start
 * included), as JSON: `node dist/bench/hook-latency.js [runs]`. Not a test:
 * figures depend on the machine's load. Uses /run/hmmv like the real hook.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { TIERING_NS } from '../plugin/libvirt/namespace.js';
import { domainXmlPath, logPath, pidfilePath, statusPath } from '../plugin/runtime/paths.js';

const HOOK = fileURLToPath(new URL('../hooks/qemu.js', import.meta.url));
const runs = Number(process.argv[2] ?? 10);
const name = `hmmv-bench-${process.pid}`;
const plain = `<domain type='qemu'><name>${name}</name></domain>`;
const managed = `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>${name}</name>
<metadata><hmmv:tiering xmlns:hmmv="${TIERING_NS}" backend="sim"><hmmv:dram quota="1GiB"/><hmmv:qmp socket="/run/hmmv/qmp/${name}.sock"/></hmmv:tiering></metadata>
<qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:/run/hmmv/qmp/${name}.sock,server=on,wait=off'/></qemu:commandline></domain>`;

function timeHook(op: string, xml: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [HOOK, name, op, 'begin', '-'], { input: xml, stdio: ['pipe', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`hook ${op} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cases: Record<string, number[]> = { nodeStartOnly: [], plainPrepare: [], plainRelease: [], managedPrepare: [], managedStarted: [], managedRelease: [] };
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  cases.nodeStartOnly!.push(Number(process.hrtime.bigint() - t0) / 1e6);
  cases.plainPrepare!.push(timeHook('prepare', plain));
  cases.plainRelease!.push(timeHook('release', plain));
  cases.managedPrepare!.push(timeHook('prepare', managed));
  cases.managedStarted!.push(timeHook('started', managed));
  cases.managedRelease!.push(timeHook('release', managed));
}
for (const f of [pidfilePath(name), statusPath(name), domainXmlPath(name), logPath(name)]) rmSync(f, { force: true });
const result = {
  date: new Date().toISOString(),
  node: process.version,
  cores: os.cpus().length,
  loadavg: os.loadavg(),
  runs,
  medianMs: Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, Math.round(median(v))])),
  maxMs: Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, Math.round(Math.max(...v))])),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
