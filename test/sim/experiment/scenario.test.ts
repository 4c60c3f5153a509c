import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POLICY_NAMES } from '../../../plugin/sim/policies/index.js';
import { runScenarioCommand } from '../../../plugin/sim/experiment/scenario-command.js';
import { runScenario } from '../../../plugin/sim/experiment/run-scenario.js';
import { ALL_POLICIES, scenario } from '../../../plugin/sim/experiment/scenarios.js';

const base = { warmup: 0.02, seed: 1, preset: 'optane', trafficScale: 8, trace: [] as string[], fresh: false, quiet: true };

describe('sim/experiment: scenarios and report', function () {
  this.timeout(180_000);
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hmmv-scenario-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('every policy is known to hmmv sim', () => {
    for (const p of ALL_POLICIES) assert.ok(POLICY_NAMES.includes(p), p);
  });

  it('four-vm runs every policy on the same VMs and writes JSON, an SVG and a summary; saved runs are reused', async () => {
    const out = join(dir, 'four');
    const opts = { ...base, duration: 0.15, vmSize: 2, vcpus: 1, out };
    const written = await runScenarioCommand('four-vm', opts);
    assert.deepEqual(written.map((f) => f.slice(out.length + 1)).sort(), ['results.json', 'slowdown-four-vm.svg', 'summary.md']);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    assert.deepEqual(results.runs.map((r: { policy: string }) => r.policy), ALL_POLICIES);
    for (const r of results.runs) {
      assert.equal(r.result.vms.length, 4);
      for (const vm of r.result.vms) assert.ok(vm.ops > 0, `${r.policy} ${vm.name} ran`);
    }
    // Same workloads and seeds for every policy: all-DRAM and Memory Mode see the same VM names and footprints.
    const names = results.runs.map((r: { result: { vms: { name: string; pageCount: number }[] } }) => r.result.vms.map((v) => `${v.name}:${v.pageCount}`).join());
    assert.equal(new Set(names).size, 1);
    const md = await readFile(join(out, 'summary.md'), 'utf8');
    for (const p of ALL_POLICIES) assert.match(md, new RegExp(`\\| ${p} \\|`));
    assert.match(md, /HMM-V faster by/);
    assert.match(md, /pages scanned \/ 200 ms/);
    assert.match(await readFile(join(out, 'slowdown-four-vm.svg'), 'utf8'), /^<svg [^>]*>.*<\/svg>\n$/s);

    // A second invocation reuses every saved run except one whose configuration no longer matches.
    const runsDir = join(out, 'runs');
    const files = (await readdir(runsDir)).sort();
    assert.equal(files.length, ALL_POLICIES.length);
    const before = new Map(await Promise.all(files.map(async (f) => [f, (await stat(join(runsDir, f))).mtimeMs] as const)));
    const stale = join(runsDir, 'co-run--unmanaged.json');
    const saved = JSON.parse(await readFile(stale, 'utf8'));
    await writeFile(stale, JSON.stringify({ ...saved, key: 'another configuration' }));
    const staleMtime = (await stat(stale)).mtimeMs;
    await runScenarioCommand('four-vm', opts);
    for (const f of files) {
      const now = (await stat(join(runsDir, f))).mtimeMs;
      if (f === 'co-run--unmanaged.json') assert.notEqual(now, staleMtime, 'the stale run was run again');
      else assert.equal(now, before.get(f), `${f} reused`);
    }
  });

  it('dram-sweep gives one slowdown per policy and fraction, with one all-DRAM reference per workload', async () => {
    const sc = scenario('dram-sweep', { durationSec: 0.1, warmupSec: 0.02, vmSizeMiB: 2, vcpus: 1, workloads: ['gups'], fractions: [0.25, 1], policies: ['all-dram', 'unmanaged', 'oracle'] });
    const runs = await runScenario(sc, dir);
    assert.equal(runs.length, 6);
    assert.deepEqual((await readdir(join(dir, 'runs'))).sort(), ['gups--all-dram.json', 'gups-100--oracle.json', 'gups-100--unmanaged.json', 'gups-25--oracle.json', 'gups-25--unmanaged.json']);
    const [full, quarter] = [1, 0.25].map((f) => runs.find((r) => r.policy === 'unmanaged' && r.dramFraction === f)!.result.vms[0]!);
    assert.ok(full!.dramHitRatio > quarter!.dramHitRatio, 'more DRAM, more DRAM hits');
  });

  it('replays a trace of a real program under every policy', async () => {
    const sc = scenario('traces', { durationSec: 0.05, warmupSec: 0.01, traces: ['traces/sort.trace.gz'] });
    const runs = await runScenario(sc, dir);
    assert.deepEqual(runs.map((r) => r.policy), ALL_POLICIES);
    for (const r of runs) assert.ok(r.result.vms[0]!.ops > 0, `${r.policy} replayed the trace`);
  });

  it('replays a sparse trace (pages 0-199 plus page 0x1ffe000, as recorded) under every policy on its 201 pages', async () => {
    const file = join(dir, 'sparse.trace');
    const lines = ['# trace sparse page_size=4096 epoch_accesses=1000 cpu_ns_per_op=20'];
    for (let e = 0; e < 5; e++) {
      lines.push(`epoch ${e}`);
      for (let p = 0; p < 200; p++) lines.push(`${p.toString(16)} 4 1`);
      lines.push('1ffe000 0 0');
    }
    await writeFile(file, lines.join('\n') + '\n');
    const written = await runScenarioCommand('traces', { ...base, duration: 0.05, trace: [file], out: join(dir, 'sparse') });
    assert.ok(written.some((f) => f.endsWith('summary.md')));
    const results = JSON.parse(await readFile(join(dir, 'sparse', 'results.json'), 'utf8')) as { runs: { policy: string; result: { vms: { pageCount: number; ops: number }[] } }[] };
    assert.deepEqual(results.runs.map((r) => r.policy), ALL_POLICIES);
    for (const r of results.runs) {
      assert.equal(r.result.vms[0]!.pageCount, 201, `${r.policy}: the VM holds the 201 pages the trace touches`);
      assert.ok(r.result.vms[0]!.ops > 0, `${r.policy} replayed it`);
    }
  });

  it('rejects an unknown scenario or policy, naming the known ones, before running anything', async () => {
    await assert.rejects(runScenarioCommand('eight-vm', { ...base, duration: 1, out: join(dir, 'x') }), /unknown scenario "eight-vm" \(known: four-vm, dram-sweep, traces\)/);
    await assert.rejects(runScenarioCommand('four-vm', { ...base, duration: 1, policies: ['hmmv', 'autonuma'], out: join(dir, 'y') }), /unknown policy "autonuma"/);
    await assert.rejects(runScenarioCommand('traces', { ...base, duration: 1, out: join(dir, 'z') }), /needs trace files/);
    await assert.rejects(stat(join(dir, 'y')), 'nothing written');
  });

  it('four-vm takes one DRAM fraction (default 25% of the VMs\' memory) and refuses several instead of ignoring them', () => {
    const pagesOfCase = (fractions?: number[]) => scenario('four-vm', { vmSizeMiB: 8, ...(fractions ? { fractions } : {}) }).cases[0]!;
    const total = 4 * ((8 * 1024 * 1024) / 4096);
    assert.equal(pagesOfCase().config.dramPages, total / 4);
    assert.equal(pagesOfCase().dramFraction, 0.25);
    assert.equal(pagesOfCase([0.1]).config.dramPages, Math.floor(total * 0.1));
    assert.equal(pagesOfCase([0.1]).dramFraction, 0.1);
    assert.throws(() => pagesOfCase([0.1, 0.5]), /four-vm scenario runs one DRAM fraction, got 2 .*use dram-sweep/);
    assert.throws(() => scenario('traces', { traces: ['x.trace'], fractions: [0.1, 0.5] }), /traces scenario runs one DRAM fraction/);
  });
});
