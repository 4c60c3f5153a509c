/**
 * Runs INSIDE the emulated-Optane test-bed host (Debian's 6.12 kernel, an
 * NVDIMM onlined as a memory-only NUMA node, libvirtd running): does what an
 * operator does with hmmv there and watches the result from outside hmmv, then
 * reports what it measured as `HMMV-RESULT {json}` lines. The mocha suite on
 * the outer host (test/e2e-host/e2e-host.test.ts) asserts on them.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readTopology } from '../../plugin/host/linux/topology.js';
import { NestedDomain, type Sample, type TieringPlan } from './nested-domain.js';
import { hmmv, installHmmv, ok, processAlive, sh, sleep, startPoolDaemon, virsh, waitFor, type Timed } from './operator.js';
import { progress, report } from './report.js';

const APP_DIR = '/hmmv';
const TINY_KERNEL = '/hmmv/tiny-guest.elf';
const PLAN: TieringPlan = { quotaMiB: 12, minMiB: 8, maxMiB: 16, rateMiB: 32, windowMs: 1000, rounds: 4 };
const POOL_MIB = 24;

interface Nodes {
  dram: number;
  nvm: number;
}

/** The DRAM node (CPUs) and the slow node (memory, no CPUs) as the host shows them. */
function tierNodes(): Nodes {
  const topo = readTopology();
  const dram = topo.nodes.find((n) => n.cpus.length > 0 && n.memTotalBytes > 0);
  const nvm = topo.nodes.find((n) => n.cpus.length === 0 && n.memTotalBytes > 0);
  if (!dram || !nvm) throw new Error(`expected a DRAM node with CPUs and a memory-only node: ${JSON.stringify(topo.nodes)}`);
  report('topology', { topology: topo });
  return { dram: dram.id, nvm: nvm.id };
}

/** What the operator does once per host: sysctl, install, host check, hook, pool daemon. */
async function operatorSetup(): Promise<void> {
  const sysctl = await sh('sysctl', ['-w', 'kernel.numa_balancing=0']);
  installHmmv(APP_DIR);
  // What a command costs here (TCG): node itself, the CLI, the hook for a domain without metadata.
  const nodeAlone = await sh(process.execPath, ['-e', '0']);
  const version = await hmmv(['--version']);
  const hookNoop = await sh('sh', ['-c', `echo '<domain/>' | ${process.execPath} ${APP_DIR}/dist/hooks/qemu.js x prepare begin -`]);
  report('startup-costs', { nodeSeconds: nodeAlone.seconds, hmmvVersionSeconds: version.seconds, hookNoopSeconds: hookNoop.seconds });
  const check = await hmmv(['host', 'check']);
  report('host-check', { code: check.code, stdout: check.stdout, stderr: check.stderr, seconds: check.seconds, sysctl: sysctl.stdout.trim() });
  const hook = ok(await hmmv(['hooks', 'install', '--reload']));
  // libvirtd re-reads its hooks on SIGHUP; wait until it answers again
  const answer = await waitFor('libvirtd to answer after SIGHUP', async () => (await virsh(['version'], 30000)).code === 0, 60000, 500);
  report('hooks-install', { stdout: hook.stdout, seconds: hook.seconds, answered: answer, hookPresent: existsSync('/etc/libvirt/hooks/qemu.d/hmmv') });
  const poolPid = startPoolDaemon(['--dram', `${POOL_MIB}MiB`]);
  let lastTry: Timed | undefined;
  const pool = await waitFor('the pool daemon to answer', async () => {
    lastTry = await hmmv(['pool', 'status', '--json'], 120000);
    return lastTry.code === 0 ? lastTry : undefined;
  }, 180000, 500).catch((error: Error) => {
    throw new Error(`${error.message}; pool daemon ${processAlive(poolPid) ? 'runs' : 'is gone'}; last \`hmmv pool status\`: ${lastTry?.stdout} ${lastTry?.stderr}`);
  });
  report('pool-up', { pid: poolPid, status: JSON.parse(pool.stdout) as unknown });
}

/** Converged: hot region on DRAM (99%), the domain's DRAM within its quota. */
function converged(s: Sample, d: NestedDomain, quotaPages: number): boolean {
  return s.hot.dram >= 0.99 * d.hotPages && s.ram.dram <= quotaPages * 1.01;
}

function thin(samples: Sample[], keep = 40): Sample[] {
  if (samples.length <= keep) return samples;
  const step = samples.length / keep;
  const out: Sample[] = [];
  for (let i = 0; i < keep; i++) out.push(samples[Math.floor(i * step)]!);
  out.push(samples[samples.length - 1]!);
  return out;
}

/** Samples until every domain has held `done` for `holdSamples` samples, or the time is up. */
async function watch(domains: NestedDomain[], done: (s: Sample, d: NestedDomain) => boolean, timeoutMs: number, holdSamples = 3): Promise<Map<string, number | undefined>> {
  const convergedAt = new Map<string, number | undefined>(domains.map((d) => [d.name, undefined]));
  const held = new Map<string, number>(domains.map((d) => [d.name, 0]));
  const deadline = Date.now() + timeoutMs;
  let lastLog = 0;
  while (Date.now() < deadline) {
    for (const d of domains) {
      const s = d.sample();
      if (done(s, d)) {
        if (convergedAt.get(d.name) === undefined) convergedAt.set(d.name, s.t);
        held.set(d.name, held.get(d.name)! + 1);
      } else {
        convergedAt.set(d.name, undefined);
        held.set(d.name, 0);
      }
      if (Date.now() - lastLog > 10000) {
        const st = d.managerStatus();
        progress(`${d.name} t=${s.t.toFixed(0)}s hot ${s.hot.dram}/${s.hot.nvm} cold ${s.cold.dram}/${s.cold.nvm} ram ${s.ram.dram}/${s.ram.nvm} manager ${st?.state} moved ${(st?.engine?.['promoted'] ?? 0) + (st?.engine?.['demoted'] ?? 0)} beats ${d.console?.beats}`);
      }
    }
    if (Date.now() - lastLog > 10000) lastLog = Date.now();
    if (domains.every((d) => held.get(d.name)! >= holdSamples)) break;
    await sleep(1000);
  }
  return convergedAt;
}

async function singleDomain(nodes: Nodes): Promise<void> {
  const a = new NestedDomain('tiny-a', TINY_KERNEL, nodes);
  const quotaPages = (PLAN.quotaMiB << 20) / 4096;
  const def = await a.define();
  const en = await a.enable(PLAN);
  const shown = await hmmv(['domain', 'show', a.name]);
  report('domain-enable', { define: def.stdout, enable: en.stdout, show: shown.stdout, seconds: { define: def.seconds, enable: en.seconds } });
  const start = await a.start();
  const manager = await waitFor('the manager to run the engine', () => {
    const st = a.managerStatus();
    return st && (st.state === 'running' || st.state === 'failed') ? st : undefined;
  }, 90000, 500);
  report('domain-started', { startSeconds: start.seconds, readySeconds: a.readySeconds, manager, bootLine: a.console?.bootLine });
  progress(`tiny-a started in ${start.seconds.toFixed(1)} s, manager ${manager.state}${manager.error ? `: ${manager.error}` : ''}`);

  const convergedAt = await watch([a], (s, d) => converged(s, d, quotaPages), 240000);
  const check = await a.console!.check();
  const status = await hmmv(['status']);
  const statusJson = await hmmv(['status', '--json']);
  const last = a.sample();
  report('single-domain', {
    name: a.name,
    quotaPages,
    secondsToConverge: convergedAt.get(a.name),
    last,
    samples: thin(a.samples),
    pagesChangedNode: a.pagesChangedNode,
    manager: a.managerStatus(),
    contentCheck: check,
    console: a.console!.summary(),
    beating: a.console!.beating(),
    status: status.stdout,
    statusJson: JSON.parse(statusJson.stdout || '[]') as unknown,
  });

  // virsh destroy: the release hook stops the manager and removes its pidfile
  const managerPid = a.managerStatus()?.pid;
  const destroy = ok(await a.destroy());
  const gone = await waitFor('the manager to exit', () => managerPid === undefined || !processAlive(managerPid), 30000).catch(() => false);
  report('destroy', { seconds: destroy.seconds, managerPid, managerGone: gone, pidfileLeft: existsSync(`/run/hmmv/${a.name}.pid`), statusAfter: (await hmmv(['status'])).stdout });
}

async function main(scenario: string): Promise<void> {
  progress(`in-host ${scenario}`);
  const nodes = tierNodes();
  await operatorSetup();
  await singleDomain(nodes);
  report('done', {});
}

/** Log tails that explain a failure: the pool daemon, every manager, libvirtd, the domains' QEMU logs. */
function diagnostics(): Record<string, string> {
  const out: Record<string, string> = {};
  const tail = (file: string, bytes = 3000) => {
    try {
      const text = readFileSync(file, 'utf8');
      out[file] = text.slice(-bytes);
    } catch {
      // not there
    }
  };
  for (const dir of ['/var/log/hmmv', '/var/log/libvirt/qemu']) {
    try {
      for (const f of readdirSync(dir)) tail(path.join(dir, f));
    } catch {
      // no such folder
    }
  }
  tail('/var/log/libvirt/libvirtd.log');
  return out;
}

main(process.argv[2] ?? 'all').then(
  () => process.exit(0),
  (err: Error) => {
    report('error', { message: err.message, stack: err.stack, diagnostics: diagnostics() });
    process.exit(1);
  },
);
