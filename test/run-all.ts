/**
 * `npm test`: every suite, in two mocha processes side by side.
 *
 * The suites that boot the TCG test-bed guest (`*testbed.test.js`,
 * `*-guest.test.js`) spend most of their time in one QEMU thread; the rest of
 * the suites (real QEMU, the system libvirtd, the simulator) are CPU work of
 * their own. Run one after the other they take the sum, about 30 minutes on
 * a 2-core CI machine; side by side, about the longer of the two. The two
 * groups share nothing: the guest suites run libvirtd and QEMU inside the
 * guest, the others use the host's. Each line of output is prefixed with its
 * group; the exit code is non-zero if either group failed.
 *
 *   node dist/test/run-all.js [extra mocha arguments for both groups]
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const GUEST_SUITES = ['dist/test/**/*testbed.test.js', 'dist/test/**/*-guest.test.js'];

interface Group {
  readonly name: string;
  readonly args: string[];
}

const mochaBin = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const extra = process.argv.slice(2);

const groups: Group[] = [
  // The guest suites: no config file, so the spec list is only theirs.
  { name: 'guest', args: ['--no-config', '--timeout', '60000', '--reporter', 'spec', ...GUEST_SUITES, ...extra] },
  // Everything else: .mocharc.json's spec minus the guest suites.
  { name: 'host ', args: [...GUEST_SUITES.flatMap((g) => ['--ignore', g]), ...extra] },
];

function run(group: Group): Promise<number> {
  const started = Date.now();
  const child = spawn(process.execPath, [mochaBin, ...group.args], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${group.name}] ${line}\n`));
  }
  return new Promise((resolve) => {
    child.on('error', (error) => {
      process.stdout.write(`[${group.name}] could not start mocha: ${error.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      process.stdout.write(`[${group.name}] mocha exited ${signal ? `on ${signal}` : `with ${code}`} after ${seconds} s\n`);
      resolve(code ?? 1);
    });
  });
}

const codes = await Promise.all(groups.map(run));
const failed = groups.filter((_, i) => codes[i] !== 0).map((g) => g.name.trim());
process.stdout.write(failed.length ? `npm test: failed in ${failed.join(' and ')}\n` : 'npm test: both groups passed\n');
process.exitCode = failed.length ? 1 : 0;
