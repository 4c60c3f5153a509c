/**
 * Three domains in one DRAM pool, with the real libvirtd and QEMU (sim
 * backend, so the hosts are dry runs of the guests' size): the hook starts a
 * manager per domain, each joins the pool daemon named in its metadata, and
 * the daemon runs under each policy in turn (restarted with SIGKILL between
 * them, the managers staying up). Throughout, every pool state and every
 * manager's status file is checked: quotas sum to at most the pool and stay
 * within each domain's min/max; under `weighted` the heavier domain never gets
 * less than the lighter one with the same demand; during a restart's settle
 * period no quota moves. `virsh destroy` of one gives its DRAM to the others;
 * a manager killed with SIGKILL leaves its guest running and its DRAM returns
 * after the grace period. The quota table per policy is written to
 * out/pool-libvirt-quotas.json.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot, type PoolStateMessage } from '../../plugin/pool/wire.js';
import { logPath, pidfilePath } from '../../plugin/runtime/paths.js';
import { processStartTime, readPidfile } from '../../plugin/runtime/pidfile.js';
import { readStatus } from '../../plugin/runtime/status-file.js';
import { CLI, defineDomain, domainXml, hmmv, qemuPidOf, removeDomain, requireLibvirtd, uniqueName, virsh, waitFor } from '../helpers/libvirt.js';
import { Peer } from '../pool/helpers.js';

const MiB = 1024 ** 2;
const PAGE = 4096;
const pages = (mib: number) => Math.round((mib * MiB) / PAGE);
const mib = (p: number) => Math.round(((p * PAGE) / MiB) * 100) / 100;

interface Spec {
  role: 'light' | 'heavy' | 'small';
  quotaMiB: number;
  minMiB: number;
  maxMiB: number;
  weight: number;
}
// light and heavy differ only in weight (same bounds, same idle guest: the same demand).
const SPECS: Spec[] = [
  { role: 'light', quotaMiB: 16, minMiB: 8, maxMiB: 40, weight: 100 },
  { role: 'heavy', quotaMiB: 16, minMiB: 8, maxMiB: 40, weight: 300 },
  { role: 'small', quotaMiB: 8, minMiB: 4, maxMiB: 16, weight: 50 },
];
const POOL_MIB = 48;
// Managers cut off this long fall back to their static quotas: longer than a daemon restart takes here.
const GRACE_MS = 6000;
// Longer than a restart takes here plus the managers' longest reconnect delay (2.5 s), as the default 10 s is.
const SETTLE_MS = 8000;
const INTERVAL_MS = 250;

interface Domain extends Spec {
  name: string;
}

/** Watches the daemon (every pool state pushed) and the managers (their status files) and records what breaks a rule. */
class Watch {
  readonly violations: string[] = [];
  readonly states: PoolStateMessage[] = [];
  /** Extra rules for a phase (weighted order, settle hold); each returns a problem or undefined. */
  readonly rules = new Map<string, (s: PoolStateMessage) => string | undefined>();
  /** Wall time of the last quota change the daemon showed. */
  lastChangeAt = Date.now();
  /** Pool states checked over the whole run. */
  checked = 0;
  /** Highest sum of the quotas the managers applied from the pool, seen between the daemon's pushes (not a rule: see the test). */
  maxManagerSumPages = 0;
  private peer: Peer | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: string,
    private readonly domains: Domain[],
  ) {}

  private boundsOf(domain: string): Domain | undefined {
    return this.domains.find((d) => d.name === domain);
  }

  /** Time of this daemon's first state on its own clock (about its start: we subscribe as it starts listening). */
  firstTimeMs: number | undefined;

  /** Whether the daemon that sent `s` is past its settle period (it reallocates only then). */
  pastSettle(s: PoolStateMessage): boolean {
    return this.firstTimeMs !== undefined && s.timeMs - this.firstTimeMs >= SETTLE_MS + 2 * INTERVAL_MS;
  }

  private checkState(s: PoolStateMessage): void {
    this.firstTimeMs ??= s.timeMs;
    const prev = this.last();
    const key = (x: PoolStateMessage | undefined) => JSON.stringify(x?.vms.map((v) => [v.domain, v.quotaPages, v.connected]));
    if (key(prev) !== key(s)) this.lastChangeAt = Date.now();
    this.states.push(s);
    this.checked++;
    const sum = s.vms.reduce((a, v) => a + v.quotaPages, 0);
    if (sum > s.poolPages) this.violations.push(`daemon: quotas sum to ${sum} > pool ${s.poolPages} pages`);
    for (const v of s.vms) {
      const d = this.boundsOf(v.domain);
      if (d && (v.quotaPages < pages(d.minMiB) || v.quotaPages > pages(d.maxMiB))) this.violations.push(`daemon: ${d.role} quota ${mib(v.quotaPages)} MiB outside [${d.minMiB}, ${d.maxMiB}]`);
    }
    for (const [name, rule] of this.rules) {
      const problem = rule(s);
      if (problem) this.violations.push(`${name}: ${problem}`);
    }
  }

  /** The quotas the live managers apply, from their status files. */
  managerQuotas(): Map<string, { pages: number; source: string }> {
    const out = new Map<string, { pages: number; source: string }>();
    for (const d of this.domains) {
      const st = readStatus(d.name);
      const q = st?.tiering?.quota;
      const alive = st?.pid !== undefined && existsSync(`/proc/${st.pid}`) && st.state === 'running';
      if (q && alive) out.set(d.name, q);
    }
    return out;
  }

  /** The managers' side, continuously: each applies a quota within its bounds. */
  private checkManagers(): void {
    let sum = 0;
    for (const [name, q] of this.managerQuotas()) {
      const d = this.boundsOf(name)!;
      if (q.source !== 'static') sum += q.pages;
      if (q.pages < pages(d.minMiB) || q.pages > pages(d.maxMiB)) this.violations.push(`manager of ${d.role}: quota ${mib(q.pages)} MiB (${q.source}) outside [${d.minMiB}, ${d.maxMiB}]`);
    }
    this.maxManagerSumPages = Math.max(this.maxManagerSumPages, sum);
  }

  start(): void {
    this.poll = setInterval(() => this.checkManagers(), 50);
  }

  /** (Re)subscribes to the daemon's state pushes. */
  async subscribe(): Promise<void> {
    this.peer?.terminate();
    const peer = await Peer.open({ socketPath: this.socket });
    this.peer = peer;
    this.states.length = 0; // last() is this daemon's
    this.firstTimeMs = undefined;
    const seen = peer.messages.length;
    peer.send({ type: 'subscribe' });
    let handled = seen;
    peer.ws.on('message', () => {
      for (; handled < peer.messages.length; handled++) {
        const m = peer.messages[handled]!;
        if (m.type === 'state') this.checkState(m);
      }
    });
  }

  last(): PoolStateMessage | undefined {
    return this.states[this.states.length - 1];
  }

  stop(): void {
    clearInterval(this.poll);
    this.peer?.terminate();
  }
}

describe('three domains in one DRAM pool (real libvirtd, sim backend)', function () {
  this.timeout(600_000);
  const socket = `/run/hmmv/pool-test-${process.pid}.sock`;
  const domains: Domain[] = SPECS.map((s) => ({ ...s, name: uniqueName(s.role) }));
  const byRole = (r: Spec['role']) => domains.find((d) => d.role === r)!;
  const watch = new Watch(socket, domains);
  let daemon: ChildProcess | undefined;
  let daemonLog = '';
  let reconnectMs: number | undefined;
  const table: Record<string, Record<string, { quotaMiB: number; targetMiB: number; source: string }>> = {};

  const startPool = async (policy: string): Promise<void> => {
    daemonLog = '';
    daemon = spawn(
      process.execPath,
      [CLI, 'pool', 'serve', '--socket', socket, '--dram', `${POOL_MIB}MiB`, '--policy', policy, '--interval-ms', String(INTERVAL_MS), '--grace-ms', String(GRACE_MS), '--settle-ms', String(SETTLE_MS), '--hysteresis-pages', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    daemon.stdout!.on('data', (d: Buffer) => (daemonLog += d));
    daemon.stderr!.on('data', (d: Buffer) => (daemonLog += d));
    await waitFor(`the pool daemon (${policy}) to listen`, () => /listening on/.test(daemonLog), 20000);
    await watch.subscribe();
  };
  const killPool = async (): Promise<void> => {
    const d = daemon!;
    d.kill('SIGKILL');
    await waitFor('the daemon to die', () => d.exitCode !== null || d.signalCode !== null, 10000);
    daemon = undefined;
  };
  /** Every domain connected, has reported, and sits at its target; `ready` extra condition. */
  const settled = (names: string[], ready: (s: PoolStateMessage) => boolean = () => true) =>
    waitFor(
      `the pool to settle with ${names.length} domains`,
      () => {
        const s = watch.last();
        if (!s) return undefined;
        const vms = s.vms.filter((v) => names.includes(v.domain));
        const steady = Date.now() - watch.lastChangeAt >= 6 * INTERVAL_MS && watch.pastSettle(s);
        if (!(steady && vms.length === names.length && s.vms.length === names.length && vms.every((v) => v.connected && v.reports > 0 && v.quotaPages === v.targetPages) && ready(s))) return undefined;
        // Settled: every manager applies exactly the daemon's quota, and those add up to at most the pool.
        const applied = watch.managerQuotas();
        if (!vms.every((v) => applied.get(v.domain)?.pages === v.quotaPages)) return undefined;
        assert.ok([...applied.values()].reduce((a, q) => a + q.pages, 0) <= s.poolPages, 'managers apply more than the pool');
        return s;
      },
      60000,
    );
  const record = (label: string, s: PoolStateMessage): void => {
    table[label] = {};
    for (const d of domains) {
      const v = s.vms.find((x) => x.domain === d.name);
      if (!v) continue;
      const src = readStatus(d.name)?.tiering?.quota.source ?? '-';
      table[label]![d.role] = { quotaMiB: mib(v.quotaPages), targetMiB: mib(v.targetPages), source: src };
    }
  };
  const quotaOf = (s: PoolStateMessage, d: Domain) => s.vms.find((v) => v.domain === d.name)?.quotaPages;
  const managerPid = (d: Domain) => readPidfile(pidfilePath(d.name))?.pid;

  before(async () => {
    await requireLibvirtd();
    const r = await hmmv(['hooks', 'install', '--reload']);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 2000));
    await virsh(['version']);
    for (const d of domains) {
      await defineDomain(domainXml(d.name));
      const en = await hmmv([
        'domain', 'enable', d.name, '--dram', `${d.quotaMiB}MiB`, '--dram-min', `${d.minMiB}MiB`, '--dram-max', `${d.maxMiB}MiB`,
        '--weight', String(d.weight), '--pool-socket', socket, '--window-ms', '100', '--rounds', '4',
      ]);
      assert.equal(en.code, 0, en.stderr);
    }
    watch.start();
  });

  after(async () => {
    watch.stop();
    for (const d of domains) {
      await removeDomain(d.name);
      const rec = readPidfile(pidfilePath(d.name));
      if (rec && processStartTime(rec.pid) === rec.startTime) process.kill(rec.pid, 'SIGKILL');
      rmSync(logPath(d.name), { force: true });
    }
    daemon?.kill('SIGKILL');
    rmSync(socket, { force: true });
    await hmmv(['hooks', 'uninstall', '--reload']);
    const out = path.join(packageRoot(), 'out');
    mkdirSync(out, { recursive: true });
    const result = { poolMiB: POOL_MIB, domains: SPECS, table, reconnectAfterRestartMs: reconnectMs, violations: watch.violations, maxManagerSumMiB: mib(watch.maxManagerSumPages), daemonStates: watch.checked };
    writeFileSync(path.join(out, 'pool-libvirt-quotas.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`      all managers back ${reconnectMs} ms after the daemon restart; ${watch.checked} pool states checked; the managers' quotas from the pool summed to at most ${mib(watch.maxManagerSumPages)} MiB (pool ${POOL_MIB} MiB)`);
    console.log('      quota table (MiB, quota/target, source in the manager):');
    for (const [label, row] of Object.entries(table))
      console.log(`        ${label.padEnd(32)} ${Object.entries(row).map(([role, q]) => `${role} ${q.quotaMiB}/${q.targetMiB} ${q.source}`).join('   ')}`);
  });

  it('all three join under utility; a SIGKILLed daemon comes back, rebuilt from the managers, quotas held while it settles', async () => {
    await startPool('utility');
    for (const d of domains) {
      const r = await virsh(['start', d.name], 90000);
      assert.equal(r.code, 0, r.stderr);
    }
    const first = await settled(domains.map((d) => d.name));
    record('utility', first);
    for (const d of domains) assert.equal(readStatus(d.name)?.tiering?.quota.source, 'pool', `${d.role} runs on the pool's quota`);
    const text = await hmmv(['status']);
    console.log(text.stdout.split('\n').filter((l) => l.startsWith('DOMAIN') || domains.some((d) => l.startsWith(d.name))).map((l) => `        ${l}`).join('\n'));

    const pids = domains.map(managerPid);
    const before = new Map(domains.map((d) => [d.name, quotaOf(first, d)!]));
    await killPool();
    await waitFor('the managers to notice', () => domains.every((d) => readStatus(d.name)?.tiering?.pool.connected === false), 20000);
    for (const d of domains) assert.equal(readStatus(d.name)?.tiering?.quota.pages, before.get(d.name), `${d.role} keeps its quota while the daemon is away`);
    let restartedAtMs: number | undefined;
    watch.rules.set('settle', (s) => {
      restartedAtMs ??= s.timeMs; // the new daemon's first state, on its own clock
      if (s.policy !== 'utility' || s.timeMs - restartedAtMs >= SETTLE_MS) return undefined;
      const moved = s.vms.filter((v) => before.has(v.domain) && v.quotaPages !== before.get(v.domain));
      return moved.length > 0 ? `quota moved during the restarted daemon's settle period: ${moved.map((v) => `${mib(before.get(v.domain)!)} -> ${mib(v.quotaPages)} MiB`).join(', ')}` : undefined;
    });
    const restartAt = Date.now();
    await startPool('utility');
    await waitFor('every manager back', () => watch.last()?.vms.filter((v) => v.connected).length === domains.length, 30000);
    reconnectMs = Date.now() - restartAt;
    const rebuilt = await settled(domains.map((d) => d.name));
    watch.rules.delete('settle');
    record('utility after daemon restart', rebuilt);
    assert.deepEqual(domains.map(managerPid), pids, 'the managers kept running');
    for (const d of domains) assert.equal(quotaOf(rebuilt, d), before.get(d.name), `${d.role}: the new daemon rebuilt the same quota`);
    assert.deepEqual(watch.violations, []);
  });

  it('fair, then weighted: the heavier domain never gets less than the lighter one', async () => {
    await killPool();
    await startPool('fair');
    record('fair', await settled(domains.map((d) => d.name), (s) => s.policy === 'fair'));
    await killPool();
    const light = byRole('light');
    const heavy = byRole('heavy');
    watch.rules.set('weighted order', (s) => {
      if (s.policy !== 'weighted') return undefined;
      const l = quotaOf(s, light);
      const h = quotaOf(s, heavy);
      return l !== undefined && h !== undefined && h < l ? `heavy ${mib(h)} MiB < light ${mib(l)} MiB` : undefined;
    });
    await startPool('weighted');
    const w = await settled(domains.map((d) => d.name), (s) => s.policy === 'weighted' && quotaOf(s, heavy)! > quotaOf(s, light)!);
    record('weighted', w);
    assert.ok(quotaOf(w, heavy)! > quotaOf(w, light)!, 'weight 300 gets more than weight 100');
    assert.deepEqual(watch.violations, []);
  });

  it('virsh destroy of one gives its DRAM to the others', async () => {
    const small = byRole('small');
    const s0 = watch.last()!;
    const freed = quotaOf(s0, small)!;
    const othersBefore = s0.vms.filter((v) => v.domain !== small.name).reduce((a, v) => a + v.quotaPages, 0);
    const d = await virsh(['destroy', small.name], 60000);
    assert.equal(d.code, 0, d.stderr);
    const s = await settled([byRole('light').name, byRole('heavy').name]);
    record('weighted, small destroyed', s);
    const othersAfter = s.vms.reduce((a, v) => a + v.quotaPages, 0);
    assert.equal(othersAfter, Math.min(pages(POOL_MIB), othersBefore + freed), `the others took the ${mib(freed)} MiB`);
    assert.deepEqual(watch.violations, []);
  });

  it('a manager killed with SIGKILL leaves its guest running; its DRAM returns after the grace period', async () => {
    const heavy = byRole('heavy');
    const light = byRole('light');
    const pid = managerPid(heavy)!;
    const qemu = qemuPidOf(heavy.name)!;
    const held = quotaOf(watch.last()!, heavy)!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await waitFor('the daemon to see the manager gone', () => watch.last()?.vms.find((v) => v.domain === heavy.name)?.connected === false, 10000);
    const during = watch.last()!;
    assert.equal(quotaOf(during, heavy), held, 'its DRAM stays reserved during the grace period');
    const s = await settled([light.name], (x) => !x.vms.some((v) => v.domain === heavy.name));
    assert.ok(Date.now() - killedAt >= GRACE_MS, 'not before the grace period');
    record('weighted, heavy manager killed', s);
    assert.equal(quotaOf(s, light), pages(light.maxMiB), 'light takes the DRAM, up to its max');
    assert.equal((await virsh(['domstate', heavy.name])).stdout.trim(), 'running', 'the guest keeps running');
    assert.ok(existsSync(`/proc/${qemu}`), 'its QEMU is alive');
    assert.deepEqual(watch.violations, []);
  });
});
