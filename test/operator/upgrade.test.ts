/**
 * Upgrading an installed hmmv while a domain's manager runs (docs/deploying.md):
 * the running manager keeps the code it started with until its domain stops;
 * the new hook stops it at release; the next start runs the new code.
 * Two tarballs of this checkout, the second with a different version, are
 * installed with `npm install -g` into one prefix, one over the other; the
 * manager is launched by the installed hook script (`started`) on a real QEMU.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QEMU_NS } from '../../plugin/libvirt/domain-edit.js';
import { TIERING_NS } from '../../plugin/libvirt/namespace.js';
import { logPath, pidfilePath, statusPath, domainXmlPath } from '../../plugin/runtime/paths.js';
import { processStartTime, readPidfile } from '../../plugin/runtime/pidfile.js';
import { packageRoot } from '../../plugin/pool/wire.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';
import { readStatus, waitFor } from '../manager/manager-process.js';

const ROOT = packageRoot();
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NEXT = `${VERSION}-upgrade.1`;

describe('upgrading hmmv while a domain runs', function () {
  this.timeout(600_000);
  const domain = `hmmv-t-upgrade-${process.pid}`;
  let work: string;
  let qemu: QemuInstance | undefined;
  const prefix = () => path.join(work, 'prefix');
  const hookScript = () => path.join(work, 'hooks', 'hmmv');
  const env = () => ({ ...process.env, PATH: `${path.join(prefix(), 'bin')}:${process.env['PATH']}` });
  const install = (tarball: string) => {
    // --omit=optional: the hook and the managers do not use the libvirt bindings (package.test.ts installs them).
    const r = spawnSync('npm', ['install', '-g', '--prefix', prefix(), '--prefer-offline', '--omit=optional', '--no-audit', '--no-fund', tarball], { encoding: 'utf8', timeout: 300_000, cwd: work });
    assert.equal(r.status, 0, `npm install -g failed (signal ${r.signal}, ${r.error?.message ?? 'no spawn error'}):\n${r.stderr}`);
  };
  const hook = (op: string, sub: string, xml: string) => spawnSync(hookScript(), [domain, op, sub, '-'], { input: xml, encoding: 'utf8', timeout: 60_000 });
  const managerLines = () => (existsSync(logPath(domain)) ? readFileSync(logPath(domain), 'utf8').split('\n').filter((l) => l.includes('"msg":"manager starting"')) : []);

  before(function () {
    work = mkdtempSync(path.join(os.tmpdir(), 'hmmv-upgrade-'));
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const first = path.join(work, (JSON.parse(out) as { filename: string }[])[0]!.filename);
    // The "new release": the same package with another version.
    const unpacked = path.join(work, 'next');
    execFileSync('mkdir', ['-p', unpacked]);
    execFileSync('tar', ['-xzf', first, '-C', unpacked]);
    const pj = path.join(unpacked, 'package', 'package.json');
    writeFileSync(pj, readFileSync(pj, 'utf8').replace(`"version": "${VERSION}"`, `"version": "${NEXT}"`));
    execFileSync('tar', ['-czf', path.join(work, 'next.tgz'), '-C', unpacked, 'package']);
    install(first);
  });
  after(async () => {
    const rec = readPidfile(pidfilePath(domain));
    if (rec && processStartTime(rec.pid) === rec.startTime) process.kill(rec.pid, 'SIGKILL');
    await qemu?.stop();
    for (const f of [pidfilePath(domain), statusPath(domain), domainXmlPath(domain), logPath(domain)]) rmSync(f, { force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('the running manager keeps its code; the new hook stops it; the next start runs the new code', async () => {
    qemu = await startQemu({ paused: false });
    const xml = `<domain type='qemu' xmlns:qemu='${QEMU_NS}'><name>${domain}</name><metadata><hmmv:tiering xmlns:hmmv='${TIERING_NS}' backend='sim'>` +
      `<hmmv:dram quota='32MiB'/><hmmv:tracking window-ms='200' rounds='4'/><hmmv:qmp socket='${qemu.qmpSocketPath}'/><hmmv:pool socket='${path.join(work, 'pool.sock')}'/></hmmv:tiering></metadata>` +
      `<qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${qemu.qmpSocketPath},server=on,wait=off'/></qemu:commandline></domain>`;
    const inst = spawnSync('hmmv', ['hooks', 'install', '--dir', path.dirname(hookScript())], { encoding: 'utf8', env: env(), timeout: 60_000 });
    assert.equal(inst.status, 0, inst.stderr);
    assert.equal(hook('started', 'begin', xml).status, 0);
    const old = await waitFor('the manager (old version) to run windows', () => {
      const s = readStatus(domain);
      return s?.state === 'running' && (s.tiering?.windows ?? 0) >= 2 ? s : undefined;
    }, 60_000);
    const oldRecord = readPidfile(pidfilePath(domain))!;
    assert.match(managerLines()[0]!, new RegExp(`"version":"${VERSION}"`));

    install(path.join(work, 'next.tgz'));
    const v = spawnSync('hmmv', ['--version'], { encoding: 'utf8', env: env() });
    assert.equal(v.stdout.split('\n')[0], `hmmv ${NEXT}`);

    // The old manager runs on, on its old code, and keeps working.
    assert.equal(processStartTime(oldRecord.pid), oldRecord.startTime, 'same process');
    const before = readStatus(domain)!.tiering!.windows!;
    await waitFor('the old manager to run more windows after the upgrade', () => (readStatus(domain)?.tiering?.windows ?? 0) > before + 2, 30_000);
    const status = JSON.parse(spawnSync('hmmv', ['status', '--json'], { encoding: 'utf8', env: env() }).stdout) as { domain: string; managerAlive: boolean; pid: number }[];
    const row = status.find((r) => r.domain === domain);
    assert.deepEqual([row?.managerAlive, row?.pid], [true, old.pid], 'the new hmmv status sees the old manager');

    // The new hook stops it at release ...
    const rel = hook('release', 'end', xml);
    assert.equal(rel.status, 0, rel.stderr);
    assert.match(rel.stderr, /manager of '[^']+' stopped/);
    assert.equal(processStartTime(oldRecord.pid), undefined, 'the old manager is gone');
    // ... and the next start runs the new code.
    assert.equal(hook('started', 'begin', xml).status, 0);
    await waitFor('the new manager to start', () => managerLines().length === 2, 30_000);
    assert.match(managerLines()[1]!, new RegExp(`"version":"${NEXT.replace(/\./g, '\\.')}"`));
    await waitFor('the new manager to run', () => readStatus(domain)?.state === 'running', 60_000);
    assert.equal(hook('release', 'end', xml).status, 0);
  });
});
