/**
 * The package as an operator gets it: `npm pack` of this checkout, installed
 * with `npm install -g` into a fresh prefix (deps from the npm cache `npm ci`
 * filled, or the registry), then run from that prefix's PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../plugin/pool/wire.js';
import { PROTOCOL_VERSION } from '../../plugin/pool/wire.js';
import { TIERING_NS } from '../../plugin/libvirt/namespace.js';

const ROOT = packageRoot();
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('npm pack and a global install', function () {
  this.timeout(600_000);
  let work: string;
  let tarball: string;
  let files: string[];
  const prefix = () => path.join(work, 'prefix');
  const installed = () => path.join(prefix(), 'lib', 'node_modules', 'hmmv');
  /** Runs the installed `hmmv` found on PATH, as an operator would. */
  const hmmv = (args: string[], input?: string) =>
    spawnSync('hmmv', args, { encoding: 'utf8', timeout: 120_000, input: input ?? '', cwd: work, env: { ...process.env, PATH: `${path.join(prefix(), 'bin')}:${process.env['PATH']}` } });

  before(function () {
    work = mkdtempSync(path.join(os.tmpdir(), 'hmmv-pack-'));
    // --ignore-scripts: prepack would clean and rebuild the dist/ this very suite runs from.
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const info = (JSON.parse(out) as { filename: string; files: { path: string }[] }[])[0]!;
    tarball = path.join(work, info.filename);
    files = info.files.map((f) => f.path);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('ships what runs and what an operator reads, not tests, traces or benchmark sources', () => {
    assert.equal(path.basename(tarball), `hmmv-${VERSION}.tgz`);
    for (const f of ['package.json', 'LICENSE', 'README.md', 'dist/plugin/cli.js', 'dist/hooks/qemu.js', 'dist/qmp/client.js',
      'schemas/tiering-metadata.schema.json', 'schemas/pool-config.schema.json', 'dist/schemas/validators/tiering-metadata.cjs', 'dist/schemas/validators/pool-config.cjs', 'plugin/pool/dashboard/index.html', 'plugin/pool/dashboard/dashboard.js',
      'packaging/systemd/hmmv-pool.service', 'packaging/tmpfiles.d/hmmv.conf', 'packaging/logrotate.d/hmmv', 'docs/deploying.md', 'docs/live-migration.md'])
      assert.ok(files.includes(f), `${f} is in the package`);
    const unwanted = files.filter((f) => /^(test|bench|traces|\.ci)\/|^dist\/(test|bench)\/|\.ts$|\.map$|^tsconfig|^\.mocharc|^docs\/report\//.test(f));
    assert.deepEqual(unwanted, []);
    assert.match(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  });

  it('installs with npm install -g into a fresh prefix and runs from its PATH', () => {
    const r = spawnSync('npm', ['install', '-g', '--prefix', prefix(), '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=@unraid/libvirt,koffi', tarball], {
      encoding: 'utf8',
      timeout: 540_000,
      cwd: work,
    });
    assert.equal(r.status, 0, `npm install -g failed (signal ${r.signal}, ${r.error?.message ?? "no spawn error"}):\n${r.stderr}`);
    assert.ok(existsSync(path.join(prefix(), 'bin', 'hmmv')));

    const v = hmmv(['--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.split('\n')[0], `hmmv ${VERSION}`);
    assert.ok(v.stdout.includes(`pool protocol ${PROTOCOL_VERSION}`), v.stdout);
    assert.ok(v.stdout.includes(`metadata namespace ${TIERING_NS}`), v.stdout);
    assert.ok(v.stdout.includes(`installed in ${installed()} `), `runs the installed copy, not the checkout:\n${v.stdout}`);
    const j = JSON.parse(hmmv(['version', '--json']).stdout) as { version: string; packageRoot: string };
    assert.deepEqual([j.version, j.packageRoot], [VERSION, installed()]);

    // The simulator runs from the package alone (schemas, workloads, output).
    const sim = hmmv(['sim', '--vms', '2', '--vm-size', '8', '--duration', '0.1', '--policies', 'unmanaged,hmmv', '--out', path.join(work, 'sim')]);
    assert.equal(sim.status, 0, sim.stderr);
    assert.match(sim.stdout, /hmmv/);
    assert.ok(existsSync(path.join(work, 'sim', 'results.json')));
  });

  it("installs the hook and the service pointing at the installed copy, and the hook runs its code", () => {
    const hooks = path.join(work, 'hooks');
    const inst = hmmv(['hooks', 'install', '--dir', hooks]);
    assert.equal(inst.status, 0, inst.stderr);
    assert.equal(inst.stderr, '', 'no checkout warning for an installed copy');
    const script = readFileSync(path.join(hooks, 'hmmv'), 'utf8');
    assert.ok(script.includes(`exec '${process.execPath}' '${installed()}/dist/hooks/qemu.js' "$@"`), script);
    assert.ok(!script.includes(ROOT + '/'), 'nothing of the checkout');
    // The installed hook validates metadata with the installed schemas: a bad quota fails prepare, naming it.
    const bad = `<domain type='qemu'><name>vm</name><metadata><hmmv:tiering xmlns:hmmv='${TIERING_NS}' backend='sim'><hmmv:dram quota='lots'/></hmmv:tiering></metadata></domain>`;
    const hook = spawnSync(path.join(hooks, 'hmmv'), ['vm', 'prepare', 'begin', '-'], { input: bad, encoding: 'utf8', timeout: 60_000 });
    assert.equal(hook.status, 1, hook.stderr);
    assert.match(hook.stderr, /hmmv: domain 'vm': invalid hmmv tiering metadata[^]*<hmmv:dram> attribute quota: expected a size/);

    const etc = path.join(work, 'root');
    const svc = hmmv(['pool', 'install-service', '--root', etc, '--dram', '1GiB']);
    assert.equal(svc.status, 0, svc.stderr);
    const unit = readFileSync(path.join(etc, 'etc/systemd/system/hmmv-pool.service'), 'utf8');
    assert.ok(unit.includes(`ExecStart=${process.execPath} ${installed()}/dist/plugin/cli.js pool serve --config /etc/hmmv/pool.json`), unit);
    assert.ok(unit.includes(`Documentation=file:${installed()}/docs/deploying.md`) && existsSync(`${installed()}/docs/deploying.md`));
  });

  it('serves the dashboard from the installed package', async () => {
    const sock = path.join(work, 'pool.sock');
    const daemon = spawn(path.join(prefix(), 'bin', 'hmmv'), ['pool', 'serve', '--dram-pages', '1000', '--socket', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(sock)) {
        if (Date.now() > deadline || daemon.exitCode !== null) throw new Error('the installed pool daemon did not listen');
        await new Promise((r) => setTimeout(r, 50));
      }
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: sock, path: '/' }, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c));
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      assert.match(body, /<title>hmmv DRAM pool<\/title>/);
    } finally {
      daemon.kill('SIGTERM');
    }
  });
});
