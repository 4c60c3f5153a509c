import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { stopManager } from '../../plugin/runtime/launch.js';
import { pidfilePath } from '../../plugin/runtime/paths.js';
import { isOurManager, liveManager, processStartTime, writePidfile } from '../../plugin/runtime/pidfile.js';

const children: ChildProcess[] = [];
function spawnIdle(args: string[], ignoreTerm = false): ChildProcess {
  const body = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', body, ...args], { stdio: 'ignore' });
  children.push(child);
  return child;
}
const alive = (pid: number) => existsSync(`/proc/${pid}`) && processStartTime(pid) !== undefined;

async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((r) => child.once('exit', r));
}

describe('manager pidfiles', () => {
  const domain = `hmmv-t-pid-${process.pid}`;
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(pidfilePath(domain), { force: true });
  });

  it('a recorded manager is ours only with the same start time and `manage --domain NAME`', () => {
    const child = spawnIdle(['manage', '--domain', domain]);
    const pid = child.pid!;
    const startTime = processStartTime(pid)!;
    assert.ok(startTime);
    assert.equal(isOurManager({ pid, startTime, domain }), true);
    assert.equal(isOurManager({ pid, startTime: String(Number(startTime) + 1), domain }), false, 'a reused pid is not ours');
    assert.equal(isOurManager({ pid, startTime, domain: 'another-domain' }), false);
    const other = spawnIdle(['something', 'else']);
    assert.equal(isOurManager({ pid: other.pid!, startTime: processStartTime(other.pid!)!, domain }), false, 'not a manager');
  });

  it('stopManager never signals a process that is not our manager, and clears the stale pidfile', async () => {
    const stranger = spawnIdle(['not-a-manager']);
    writePidfile(pidfilePath(domain), { pid: stranger.pid!, startTime: processStartTime(stranger.pid!)!, domain });
    assert.equal(liveManager(pidfilePath(domain)), undefined);
    assert.equal(await stopManager(domain), 'not-running');
    assert.equal(alive(stranger.pid!), true, 'the stranger still runs');
    assert.equal(existsSync(pidfilePath(domain)), false);
  });

  it('stopManager stops our manager with SIGTERM, or SIGKILL after the grace time', async () => {
    const polite = spawnIdle(['manage', '--domain', domain]);
    writePidfile(pidfilePath(domain), { pid: polite.pid!, startTime: processStartTime(polite.pid!)!, domain });
    assert.equal(await stopManager(domain), 'stopped');
    await waitExit(polite);
    assert.equal(polite.signalCode, 'SIGTERM');
    assert.equal(existsSync(pidfilePath(domain)), false);

    // Ignores SIGTERM, and says so once its handler is in place.
    const stubborn = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);", 'manage', '--domain', domain], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(stubborn);
    await new Promise((r) => stubborn.stdout!.once('data', r));
    writePidfile(pidfilePath(domain), { pid: stubborn.pid!, startTime: processStartTime(stubborn.pid!)!, domain });
    assert.equal(await stopManager(domain, 300), 'killed');
    await waitExit(stubborn);
    assert.equal(stubborn.signalCode, 'SIGKILL');
  });
});
