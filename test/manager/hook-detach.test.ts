/**
 * The hook entry run the way libvirtd runs it (argv, XML on stdin, stdout and
 * stderr as pipes read to EOF), without libvirtd: the launched manager must be
 * fully detached, or libvirtd would wait on the pipes for ever.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TIERING_NS } from '../../plugin/libvirt/tiering-metadata.js';
import { domainXmlPath, logPath, pidfilePath, statusPath } from '../../plugin/runtime/paths.js';
import { isOurManager, processStartTime, readPidfile } from '../../plugin/runtime/pidfile.js';

const HOOK = fileURLToPath(new URL('../../hooks/qemu.js', import.meta.url));

interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** ms until every pipe of the hook reached EOF (what libvirtd waits for). */
  pipesClosedMs: number;
}

/** Runs the hook; rejects if its pipes stay open past `boundMs` (the freeze libvirtd would suffer). */
function runHook(args: string[], xml: string, boundMs = 30000): Promise<HookRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [HOOK, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the hook's pipes were still open after ${boundMs} ms: libvirtd would hang`));
    }, boundMs);
    // 'close' fires only when the process exited AND all its stdio streams ended.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, pipesClosedMs: Date.now() - t0 });
    });
    child.stdin.end(xml);
  });
}

const xmlFor = (name: string, quota = '32MiB') => `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  <metadata><hmmv:tiering xmlns:hmmv="${TIERING_NS}" backend="sim"><hmmv:dram quota="${quota}"/><hmmv:qmp socket="/run/hmmv/qmp/${name}.sock"/></hmmv:tiering></metadata>
  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:/run/hmmv/qmp/${name}.sock,server=on,wait=off'/></qemu:commandline>
</domain>`;

/** Session id (field 6 of /proc/PID/stat). */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

describe('hook entry (as libvirtd runs it)', function () {
  this.timeout(90000);
  const name = `hmmv-t-detach-${process.pid}`;

  after(() => {
    const rec = readPidfile(pidfilePath(name));
    if (rec && processStartTime(rec.pid) === rec.startTime) process.kill(rec.pid, 'SIGKILL');
    for (const f of [pidfilePath(name), statusPath(name), domainXmlPath(name), logPath(name)]) rmSync(f, { force: true });
  });

  it('started: returns with all pipes closed while the manager runs detached; release stops it', async () => {
    const started = await runHook([name, 'started', 'begin', '-'], xmlFor(name));
    assert.equal(started.code, 0, started.stderr);
    const rec = readPidfile(pidfilePath(name));
    assert.ok(rec, 'pidfile written');
    assert.equal(isOurManager(rec), true, 'the manager runs after the hook returned');
    assert.equal(sessionOf(rec.pid), rec.pid, 'the manager leads its own session (setsid)');
    assert.equal(readlinkSync(`/proc/${rec.pid}/fd/0`), '/dev/null');
    assert.equal(readlinkSync(`/proc/${rec.pid}/fd/1`), logPath(name));
    assert.equal(readlinkSync(`/proc/${rec.pid}/fd/2`), logPath(name));
    assert.equal(readFileSync(domainXmlPath(name), 'utf8'), xmlFor(name), 'the manager reads the XML the hook saw');
    assert.equal(statSync(domainXmlPath(name)).mode & 0o777, 0o600, 'the saved domain XML is private');

    // The manager keeps trying its socket (no QEMU here) and says so in its status.
    const deadline = Date.now() + 30000;
    while ((JSON.parse(readFileSync(statusPath(name), 'utf8')) as { state: string }).state !== 'connecting') {
      assert.ok(Date.now() < deadline, 'the manager never reached the connecting state');
      await new Promise((r) => setTimeout(r, 100));
    }

    const released = await runHook([name, 'release', 'end', '-'], xmlFor(name));
    assert.equal(released.code, 0, released.stderr);
    assert.match(released.stderr, /manager of .* stopped/);
    assert.equal(processStartTime(rec.pid), undefined, 'manager gone');
    assert.equal(existsSync(pidfilePath(name)), false);
    assert.equal(existsSync(statusPath(name)), false);
    assert.match(readFileSync(logPath(name), 'utf8'), /"msg":"manager stopped"/);
  });

  it('prepare: invalid metadata exits non-zero with the problem on stderr', async () => {
    const r = await runHook([name, 'prepare', 'begin', '-'], xmlFor(name, 'huge'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hmmv: domain '.*': invalid hmmv tiering metadata/);
    assert.match(r.stderr, /<hmmv:dram> attribute quota: expected a size like 2GiB.*got 'huge'/);
    const ok = await runHook([name, 'prepare', 'begin', '-'], xmlFor(name));
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(existsSync('/run/hmmv/qmp'), true, 'prepare makes the socket folder');
  });

  it('a domain without metadata: exit 0, nothing written', async () => {
    const plain = `hmmv-t-plain-${process.pid}`;
    for (const op of ['prepare', 'started', 'reconnect', 'release', 'stopped']) {
      const r = await runHook([plain, op, 'begin', '-'], `<domain type='qemu'><name>${plain}</name></domain>`);
      assert.equal(r.code, 0, `${op}: ${r.stderr}`);
      assert.equal(r.stdout + r.stderr, '');
    }
    for (const f of [pidfilePath(plain), statusPath(plain), logPath(plain), domainXmlPath(plain)]) assert.equal(existsSync(f), false, f);
  });

  it('bad argv: a usage error, not a crash', async () => {
    const r = await runHook([], '');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /expected arguments DOMAIN OP SUBOP EXTRA/);
  });
});
