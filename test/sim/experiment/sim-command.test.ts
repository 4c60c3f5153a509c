import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../plugin/cli.js', import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hmmv ...` as a child process; kills it if the test times out. */
function hmmv(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A small, fast co-run (4 VMs x 8 MiB, 0.2 s simulated). */
const SMALL = ['--vm-size', '8', '--duration', '0.2', '--warmup', '0.01', '--seed', '3'];

describe('sim/experiment: hmmv sim', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hmmv-sim-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the table and the verdict, writes JSON, SVG and table, and the same seed gives the same JSON', async () => {
    const out1 = join(dir, 'one');
    const run = await hmmv(['sim', ...SMALL, '--out', out1]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /policy\s+vm\s+ops\/s\s+slowdown/);
    for (const policy of ['all-dram', 'unmanaged', 'hmmv', 'hmmv-pool']) assert.match(run.stdout, new RegExp(`^${policy}\\s+total`, 'm'));
    assert.match(run.stdout, /HMM-V (beats unmanaged by [\d.]+%|is [\d.]+% slower than unmanaged|and unmanaged run at the same speed)/);
    assert.match(run.stderr, /^\[hmmv sim\] run 3\/4 hmmv done in /m, 'one progress line per finished run on stderr');
    assert.match(run.stdout, /The DRAM pool (beats the static equal split by [\d.]+%|is [\d.]+% slower than the static equal split|and the static equal split run at the same speed)/);
    assert.match(run.stdout, /^hmmv-pool\s+vm0 .* \d+ -> \d+ \(\d+\.\.\d+\)$/m, 'the pool column shows how the quota moved');
    assert.deepEqual(readdirSync(out1).sort(), ['chart.svg', 'results.json', 'table.txt', 'timeline.svg']);
    const json = readFileSync(join(out1, 'results.json'), 'utf8');
    const result = JSON.parse(json) as { runs: { policy: string; vms: unknown[] }[]; summary: { totalSlowdown: Record<string, number> } };
    assert.deepEqual(result.runs.map((r) => r.policy), ['all-dram', 'unmanaged', 'hmmv', 'hmmv-pool']);
    assert.equal(result.runs[0]!.vms.length, 4);
    assert.equal(result.summary.totalSlowdown['all-dram'], 1);
    for (const svg of ['chart.svg', 'timeline.svg']) {
      assert.match(readFileSync(join(out1, svg), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
    }
    assert.ok(!readFileSync(join(out1, 'timeline.svg'), 'utf8').includes('NaN'), 'no NaN coordinates');

    const out2 = join(dir, 'two');
    const again = await hmmv(['sim', ...SMALL, '--out', out2, '--quiet']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(join(out2, 'results.json'), 'utf8'), json, 'same seed, same JSON');
    assert.equal(again.stderr, '', '--quiet prints no progress');
  });

  const bad: [string, string[], RegExp][] = [
    ['an unknown workload', ['--workloads', 'kv-zipf,nope'], /unknown workload 'nope'/],
    ['a quota larger than the host', ['--quota', '64'], /DRAM quotas add up to .* more than the host's/],
    ['a VM larger than both tiers', ['--dram', '2', '--nvm', '4'], /VM vm0 has 2048 pages, more than DRAM \(512\) and NVM \(1024\) together/],
    ['an unknown policy', ['--policies', 'hmmv,clairvoyant'], /unknown policy "clairvoyant"/],
    ['an unknown preset', ['--preset', 'hbm'], /--preset.*hbm.*optane, cxl/],
    ['a negative duration', ['--duration', '-1'], /--duration must be a number > 0/],
    ['a malformed --param', ['--param', 'theta=0.9'], /--param "theta=0.9": expected TARGET.NAME=VALUE/],
    ['a --param for no VM', ['--param', 'graph.degree=3'], /no VM is named "graph" or runs that workload/],
    ['an unknown workload parameter', ['--param', 'vm0.nope=1'], /workload kv-zipf: unknown parameter 'nope'/],
    ['a fractional seed', ['--seed', '1.5'], /--seed must be a whole number/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with a clear error, a non-zero exit and no output written`, async () => {
      const out = join(dir, 'out');
      const run = await hmmv(['sim', ...SMALL, '--out', out, ...args]);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, message);
      assert.equal(existsSync(out), false, 'nothing written');
      assert.equal(run.stdout, '');
    });
  }

  /** A small trace: two epochs over 64 pages, page 0-7 hot. */
  function writeTrace(path: string, badLine = false): void {
    const lines = ['# trace tiny page_size=4096 epoch_accesses=1000 accesses_per_op=2'];
    for (let e = 0; e < 2; e++) {
      lines.push(`epoch ${e}`);
      for (let p = 0; p < 64; p++) lines.push(`${(p + 8 * e).toString(16)} ${p < 8 ? 100 : 2} ${p % 4 === 0 ? 3 : 0}`);
    }
    if (badLine) lines.push('zz 1 1');
    writeFileSync(path, lines.join('\n') + '\n');
  }

  it('replays a trace file in a VM next to generated workloads', async () => {
    const trace = join(dir, 'tiny.trace');
    writeTrace(trace);
    const out = join(dir, 'out');
    const run = await hmmv(['sim', ...SMALL, '--vms', '2', '--workloads', 'gups', '--trace', trace, '--out', out, '-q']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /vm0 trace:tiny/);
    assert.match(run.stdout, /vm1 gups/);
  });

  it('rejects a trace with a bad line, naming the file and line, with nothing written', async () => {
    const trace = join(dir, 'bad.trace');
    writeTrace(trace, true);
    const out = join(dir, 'out');
    const run = await hmmv(['sim', ...SMALL, '--trace', trace, '--out', out]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /bad\.trace:132/);
    assert.equal(existsSync(out), false);
  });

  it('lists its knobs in --help', async () => {
    const run = await hmmv(['sim', '--help']);
    assert.equal(run.code, 0);
    for (const knob of ['--vms', '--vm-size', '--workloads', '--preset', '--duration', '--seed', '--trace', '--out', '--quota']) {
      assert.ok(run.stdout.includes(knob), `--help lacks ${knob}`);
    }
  });
});
