/**
 * Scale: a 128 GiB VM (32 Mi pages) runs under every policy, and a machine
 * larger than the memory it may use is refused before anything is built,
 * saying what takes the memory. Needs about 1 GiB of free memory (the
 * largest run, Memory Mode's tag bytes for a 16 GiB cache, is estimated
 * first and the test says so if the machine has less).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { prepareExperiment, runExperiment, type ExperimentConfig } from '../../../plugin/sim/experiment/experiment.js';
import { availableMemoryBytes, gib } from '../../../plugin/sim/machine/memory-estimate.js';
import { POLICY_NAMES } from '../../../plugin/sim/policies/index.js';
import { makeWorkload } from '../../../plugin/sim/workloads/index.js';

const CLI = fileURLToPath(new URL('../../../plugin/cli.js', import.meta.url));
const PAGES_128_GIB = 2 ** 25;

function big(policies: readonly string[], kind = 'scan'): ExperimentConfig {
  return {
    preset: 'optane',
    dramPages: PAGES_128_GIB / 8,
    nvmPages: PAGES_128_GIB,
    vms: [{ name: 'big', workload: { kind, pageCount: PAGES_128_GIB }, vcpus: 2 }],
    durationNs: 20e6,
    warmupNs: 0,
    seed: 1,
    policies,
    trafficScale: 8,
  };
}

describe('sim/experiment: scale', function () {
  this.timeout(600_000);

  it('runs a 128 GiB VM under every policy', async () => {
    const estimates = prepareExperiment({ ...big(POLICY_NAMES), memoryLimitBytes: Infinity }, makeWorkload);
    const largest = Math.max(...estimates.map((e) => e.memory.bytes));
    assert.ok(largest < availableMemoryBytes(), `this test needs about ${gib(largest)} of free memory, the machine has ${gib(availableMemoryBytes())}`);
    for (const policy of POLICY_NAMES) {
      const r = await runExperiment(big([policy]), makeWorkload);
      const vm = r.runs[0]!.vms[0]!;
      assert.equal(vm.pageCount, PAGES_128_GIB, policy);
      assert.ok(vm.ops > 1000, `${policy}: the VM ran (${vm.ops} ops)`);
      assert.ok(vm.dramPagesAtEnd + vm.nvmPagesAtEnd === PAGES_128_GIB, `${policy}: every page is backed`);
    }
  });

  it('refuses a machine larger than its memory limit up front, naming what takes the memory', () => {
    assert.throws(
      () => prepareExperiment({ ...big(['memory-mode']), memoryLimitBytes: 256 * 2 ** 20 }, makeWorkload),
      /the memory-mode run needs about \d+ MiB of memory, more than the 256 MiB available \(largest parts: policy memory-mode 544 MiB; Node\.js runtime 256 MiB; VM big \(128\.0 GiB\): sim host state 180 MiB\); run smaller or fewer VMs, another policy, or raise the limit with --memory-limit MiB/,
    );
    // A 1 TiB VM of kv-zipf: refused from its size alone, before its workload's tables are built.
    assert.throws(() => prepareExperiment({ ...big(['hmmv'], 'kv-zipf'), vms: [{ name: 'huge', workload: { kind: 'kv-zipf', pageCount: 2 ** 28 }, vcpus: 2 }], nvmPages: 2 ** 28, memoryLimitBytes: 2 ** 30 }, makeWorkload), /the hmmv run needs about \d+\.\d GiB/);
  });

  it('hmmv sim says so and exits 1 without writing anything', () => {
    const r = spawnSync(process.execPath, [CLI, 'sim', '--vms', '1', '--vm-size', '131072', '--memory-limit', '300', '-q', '--out', '/nonexistent/never'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /hmmv sim: error: the all-dram run needs about .* more than the 300 MiB available/);
  });
});
