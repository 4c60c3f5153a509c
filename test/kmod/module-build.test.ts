/**
 * hmmv.ko builds for the test bed's kernel (Debian's 6.12 cloud kernel) with
 * Debian's matching headers and the kernel's own compiler, without warnings
 * (W=1), and its C (module, uapi header, in-guest checker) is checkpatch
 * clean. The headers and checkpatch.pl are fetched once into the test-bed
 * cache by kmod/build-for-testbed.sh (CI: .ci/setup.d/40-kmod.sh).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, repoDir } from '../guest/testbed.js';

const run = promisify(execFile);

describe('hmmv.ko: build for the test-bed kernel, checkpatch', function () {
  this.timeout(10 * 60_000); // the first run downloads the headers and linux-source

  let ko: string;
  before(async function () {
    assert.ok(existsSync(join(cacheDir, 'kernel-package')), `no test-bed kernel in ${cacheDir}: run test/guest/build.sh (CI: .ci/setup.d/30-guest-kernel.sh)`);
    try {
      const { stdout } = await run('bash', [join(repoDir, 'kmod/build-for-testbed.sh'), cacheDir, 'checkpatch'], { maxBuffer: 1 << 22 });
      ko = stdout.trim().split('\n').pop()!;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`building hmmv.ko failed: ${e.stderr?.trim() || e.message}`);
    }
  });

  it('builds without a warning (W=1), for exactly the test-bed kernel, GPL', () => {
    const log = readFileSync(join(dirname(ko), 'build.log'), 'utf8');
    assert.doesNotMatch(log, /warning|error/i, log);
    const image = readFileSync(ko).toString('latin1');
    const kernel = readFileSync(join(cacheDir, 'kernel-package'), 'utf8').trim().replace(/^linux-image-/, '').replace(/-unsigned$/, '');
    assert.match(image, new RegExp(`vermagic=${kernel.replace(/[.+]/g, '\\$&')} SMP`));
    assert.match(image, /license=GPL/);
  });

  const checkpatch = async (files: string[], ignore: string[] = []): Promise<string[]> => {
    const script = join(cacheDir, 'kmod/checkpatch/checkpatch.pl');
    const args = [script, '--no-tree', '--terse', '--show-types', ...(ignore.length ? ['--ignore', ignore.join(',')] : []), '-f', ...files];
    const r = await run('perl', args, { cwd: repoDir, maxBuffer: 1 << 22 }).catch((e: { stdout: string }) => e);
    return r.stdout.split('\n').filter((l) => /: (ERROR|WARNING):/.test(l));
  };

  it('kmod/ (module and uapi header) is checkpatch clean', async () => {
    const files = [...readdirSync(join(repoDir, 'kmod')).filter((f) => /\.[ch]$/.test(f)).map((f) => `kmod/${f}`), 'kmod/uapi/hmmv.h'];
    assert.deepEqual(await checkpatch(files), []);
  });

  it('the in-guest checker is checkpatch clean too (volatile allowed: user space reading mapped guest RAM)', async () => {
    const files = readdirSync(join(repoDir, 'test/kmod/guest')).filter((f) => f.endsWith('.c')).map((f) => `test/kmod/guest/${f}`);
    assert.deepEqual(await checkpatch(files, ['VOLATILE']), []);
  });

  it('the uapi header compiles on its own in user space, and the checker with -Werror', async () => {
    await run('gcc', ['-fsyntax-only', '-Wall', '-Wextra', '-Werror', '-x', 'c', join(repoDir, 'kmod/uapi/hmmv.h')]);
    await run('gcc', ['-fsyntax-only', '-Wall', '-Werror', '-pthread', '-I', join(repoDir, 'kmod/uapi'), join(repoDir, 'test/kmod/guest/kmod-check.c')]);
  });
});
