/**
 * The QMP client against a real qemu-system-x86_64 (TCG): protocol, events,
 * concurrency and faults (QEMU killed, frozen, restarted; busy socket).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QmpClient } from '../../qmp/client.js';
import {
  QmpClosedError,
  QmpError,
  QmpEventTimeoutError,
  QmpGreetingTimeoutError,
  QmpTimeoutError,
} from '../../qmp/errors.js';
import type { QmpEvent } from '../../qmp/types.js';
import { startQemu, type QemuInstance } from '../helpers/qemu.js';

const MiB = 1024 * 1024;

/** Freeze / thaw the QEMU process so a command stays pending for as long as a test needs. */
function freeze(qemu: QemuInstance): void {
  process.kill(qemu.pid, 'SIGSTOP');
}
function thaw(qemu: QemuInstance): void {
  process.kill(qemu.pid, 'SIGCONT');
}

describe('qmp/client against real QEMU', function () {
  this.timeout(60000);

  describe('one shared QEMU', () => {
    let qemu: QemuInstance;
    let client: QmpClient;

    before(async () => {
      qemu = await startQemu({ qmpTcp: true });
    });
    after(async () => {
      await qemu?.stop();
    });
    beforeEach(async () => {
      client = await QmpClient.connect({ path: qemu.qmpSocketPath });
    });
    afterEach(async () => {
      // A test may leave QEMU frozen on failure: never leave it stopped.
      if (qemu.isRunning()) thaw(qemu);
      await client?.close();
    });

    it('keeps the greeting: QEMU version and capabilities', async () => {
      const { version, capabilities } = client.greeting;
      assert.equal(version.qemu.major, 7);
      assert.ok(version.package.length > 0);
      assert.ok(capabilities.includes('oob'), `capabilities: ${capabilities.join(',')}`);
      assert.deepEqual(await client.execute('query-version'), version);
      assert.equal(client.state, 'ready');
    });

    it('talks over TCP (loopback) too', async () => {
      const tcp = await QmpClient.connect({ host: '127.0.0.1', port: qemu.qmpTcpPort! });
      try {
        const status = await tcp.execute<{ status: string }>('query-status');
        assert.equal(status.status, 'prelaunch');
      } finally {
        await tcp.close();
      }
    });

    it('resolves many concurrent commands to the right callers', async () => {
      const paths = ['/objects/dram0', '/objects/nvm0'];
      const calls: Promise<unknown>[] = [];
      const expected: unknown[] = [];
      for (let i = 0; i < 150; i++) {
        if (i % 3 === 0) {
          calls.push(client.execute('qom-get', { path: paths[i % 2]!, property: 'size' }));
          expected.push(128 * MiB);
        } else if (i % 3 === 1) {
          calls.push(client.execute('qom-get', { path: paths[i % 2]!, property: 'share' }));
          expected.push(paths[i % 2] === '/objects/nvm0');
        } else {
          calls.push(client.execute(`no-such-command-${i}`).catch((e: QmpError) => `${e.errorClass}:${e.desc}`));
          expected.push(`CommandNotFound:The command no-such-command-${i} has not been found`);
        }
      }
      assert.equal(client.pendingCount, 150);
      assert.deepEqual(await Promise.all(calls), expected);
      assert.equal(client.pendingCount, 0);
    });

    it('turns an unknown command into a QmpError with QEMU\'s class and desc', async () => {
      await assert.rejects(client.execute('hmmv-bogus'), (e: unknown) => {
        assert.ok(e instanceof QmpError, String(e));
        assert.equal(e.errorClass, 'CommandNotFound');
        assert.equal(e.desc, 'The command hmmv-bogus has not been found');
        assert.equal(e.command, 'hmmv-bogus');
        return true;
      });
      await assert.rejects(client.execute('qom-get', { path: '/objects/nope', property: 'size' }), (e: unknown) => {
        assert.ok(e instanceof QmpError);
        assert.equal(e.errorClass, 'DeviceNotFound');
        return true;
      });
      // The session and the guest carry on.
      assert.equal((await client.execute<{ status: string }>('query-status')).status, 'prelaunch');
    });

    it('delivers STOP and RESUME with timestamps, to iterators and listeners', async () => {
      const iterator = client.events(['STOP', 'RESUME']);
      const heard: string[] = [];
      client.on('event', (e: QmpEvent) => heard.push(e.event));
      const resumed = client.waitForEvent('RESUME', { timeoutMs: 10000 });
      await client.execute('cont');
      const resume = await resumed;
      await client.execute('stop');
      const first = await iterator.next();
      const second = await iterator.next();
      await iterator.return!();
      assert.equal(first.value?.event, 'RESUME');
      assert.equal(second.value?.event, 'STOP');
      assert.deepEqual(heard, ['RESUME', 'STOP']);
      const now = Date.now() / 1000;
      for (const e of [resume, first.value!, second.value!]) {
        assert.ok(Math.abs(e.timestamp.seconds - now) < 600, `timestamp ${e.timestamp.seconds} vs now ${now}`);
        assert.ok(e.timestamp.microseconds >= 0 && e.timestamp.microseconds < 1e6);
      }
      const stopUs = second.value!.timestamp.seconds * 1e6 + second.value!.timestamp.microseconds;
      const resumeUs = first.value!.timestamp.seconds * 1e6 + first.value!.timestamp.microseconds;
      assert.ok(stopUs >= resumeUs, 'STOP is stamped after RESUME');
      assert.equal((await client.execute<{ status: string }>('query-status')).status, 'paused');
    });

    it('times out waiting for an event that does not come, and ends an iterator on abort', async () => {
      await assert.rejects(client.waitForEvent('DEVICE_DELETED', { timeoutMs: 200 }), (e: unknown) => {
        assert.ok(e instanceof QmpEventTimeoutError, String(e));
        assert.match(e.message, /DEVICE_DELETED/);
        return true;
      });
      const controller = new AbortController();
      const iterator = client.events('SHUTDOWN', { signal: controller.signal });
      const next = iterator.next();
      controller.abort(new Error('no longer interested'));
      await assert.rejects(next, /no longer interested/);
      assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    });

    it('times a command out when QEMU does not answer, then carries on', async () => {
      freeze(qemu);
      await assert.rejects(client.execute('query-status', undefined, { timeoutMs: 300 }), (e: unknown) => {
        assert.ok(e instanceof QmpTimeoutError, String(e));
        assert.equal(e.command, 'query-status');
        assert.equal(e.timeoutMs, 300);
        return true;
      });
      thaw(qemu);
      // The late reply to the timed-out command must not be taken for this one.
      const name = await client.execute<{ name: string }[]>('qom-list', { path: '/objects/nvm0' });
      assert.ok(Array.isArray(name) && name.some((p) => p.name === 'mem-path'));
      assert.equal(client.pendingCount, 0);
    });

    it('abandons a command when its AbortSignal fires', async () => {
      const already = AbortSignal.abort(new Error('not wanted'));
      await assert.rejects(client.execute('query-status', undefined, { signal: already }), /not wanted/);
      freeze(qemu);
      const controller = new AbortController();
      const pending = client.execute('query-status', undefined, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('user gave up')), 100);
      await assert.rejects(pending, /user gave up/);
      thaw(qemu);
      assert.ok(await client.execute('query-version'));
    });

    it('reports a second client on the busy socket with a greeting timeout', async () => {
      await assert.rejects(QmpClient.connect({ path: qemu.qmpSocketPath }, { greetingTimeoutMs: 500 }), (e: unknown) => {
        assert.ok(e instanceof QmpGreetingTimeoutError, String(e));
        assert.match(e.message, /one client per QMP socket/);
        return true;
      });
      // The first client is unaffected, and once it leaves the socket is free again.
      await client.execute('query-status');
      await client.close();
      const next = await QmpClient.connect({ path: qemu.qmpSocketPath });
      await next.close();
    });

    it('close() rejects pending commands, ends iterators and refuses new commands', async () => {
      freeze(qemu);
      const iterator = client.events();
      const pending = assert.rejects(client.execute('query-status'), (e: unknown) => {
        assert.ok(e instanceof QmpClosedError);
        assert.equal(e.command, 'query-status');
        assert.match(e.message, /closed by the client/);
        return true;
      });
      const ended = iterator.next();
      await client.close();
      await pending;
      assert.deepEqual(await ended, { value: undefined, done: true });
      await assert.rejects(client.execute('query-status'), /client is closed/);
      thaw(qemu);
    });
  });

  it('emits SHUTDOWN on quit, then reports the connection closed', async () => {
    const qemu = await startQemu();
    try {
      const client = await QmpClient.connect({ path: qemu.qmpSocketPath });
      const shutdown = client.waitForEvent('SHUTDOWN', { timeoutMs: 10000 });
      const closed = new Promise<unknown>((resolve) => client.once('close', resolve));
      await client.execute('quit');
      const event = await shutdown;
      assert.equal(event.event, 'SHUTDOWN');
      assert.equal(event.data['guest'], false);
      assert.equal(event.data['reason'], 'host-qmp-quit');
      const reason = await closed;
      assert.ok(reason instanceof QmpClosedError);
      assert.equal(client.state, 'closed');
      await qemu.exited;
    } finally {
      await qemu.stop();
    }
  });

  it('rejects a pending command at once, naming it, when QEMU is killed mid-command', async () => {
    const qemu = await startQemu();
    try {
      const client = await QmpClient.connect({ path: qemu.qmpSocketPath });
      const disconnects: Error[] = [];
      client.on('disconnect', (e: Error) => disconnects.push(e));
      freeze(qemu); // the command is certainly in flight when QEMU dies
      const first = assert.rejects(
        client.execute('human-monitor-command', { 'command-line': 'info mtree -f' }, { timeoutMs: 0 }),
        (e: unknown) => {
          assert.ok(e instanceof QmpClosedError, String(e));
          assert.equal(e.command, 'human-monitor-command');
          assert.match(e.message, /'human-monitor-command'/);
          return true;
        },
      );
      const second = assert.rejects(
        client.execute('query-memdev', undefined, { timeoutMs: 0 }),
        (e: unknown) => e instanceof QmpClosedError && e.command === 'query-memdev',
      );
      const killedAt = Date.now();
      process.kill(qemu.pid, 'SIGKILL');
      await Promise.all([first, second]);
      // Bounded: no timeout was set, the close itself must reject them.
      assert.ok(Date.now() - killedAt < 10000);
      assert.equal(disconnects.length, 1);
      assert.equal(client.state, 'closed');
      await client.close();
    } finally {
      await qemu.stop();
    }
  });

  it('gives up reconnecting after maxAttempts, rejecting queued commands by name', async () => {
    const qemu = await startQemu();
    let client: QmpClient | undefined;
    try {
      client = await QmpClient.connect({ path: qemu.qmpSocketPath }, { reconnect: { initialDelayMs: 20, maxAttempts: 3 } });
      const failures: Error[] = [];
      client.on('reconnect-failed', (e: Error) => failures.push(e));
      const closed = new Promise<unknown>((resolve) => client!.once('close', resolve));
      const disconnected = new Promise((resolve) => client!.once('disconnect', resolve));
      process.kill(qemu.pid, 'SIGKILL');
      await disconnected;
      const queued = assert.rejects(client.execute('query-memdev', undefined, { timeoutMs: 0 }), (e: unknown) => {
        assert.ok(e instanceof QmpClosedError, String(e));
        assert.equal(e.command, 'query-memdev');
        assert.match(e.message, /gave up reconnecting after 3 attempts/);
        return true;
      });
      const reason = await closed;
      await queued;
      assert.ok(reason instanceof QmpClosedError);
      assert.equal(failures.length, 3);
      assert.equal(client.state, 'closed');
    } finally {
      await client?.close();
      await qemu.stop();
    }
  });

  it('reconnects with backoff when QEMU restarts on the same socket', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-reconnect-'));
    const socketPath = path.join(dir, 'qmp.sock');
    let qemu = await startQemu({ qmpSocketPath: socketPath });
    let client: QmpClient | undefined;
    try {
      client = await QmpClient.connect(
        { path: socketPath },
        { reconnect: { initialDelayMs: 50, maxDelayMs: 400, factor: 2 } },
      );
      const firstPid = qemu.pid;
      const disconnected = new Promise((resolve) => client!.once('disconnect', resolve));
      const failures: Error[] = [];
      client.on('reconnect-failed', (e: Error) => failures.push(e));
      process.kill(firstPid, 'SIGKILL');
      await disconnected;
      await qemu.exited;
      assert.equal(client.state, 'reconnecting');
      // Issued while disconnected: waits for the new session.
      const queued = client.execute<{ status: string }>('query-status', undefined, { timeoutMs: 30000 });
      await new Promise((r) => setTimeout(r, 300)); // let some attempts fail (no socket yet)
      const reconnected = new Promise((resolve) => client!.once('reconnect', resolve));
      await qemu.stop();
      qemu = await startQemu({ qmpSocketPath: socketPath });
      await reconnected;
      assert.ok(failures.length >= 1, 'attempts failed while QEMU was down');
      assert.equal((await queued).status, 'prelaunch');
      assert.equal(client.state, 'ready');
      const cpus = await client.execute<{ 'thread-id': number }[]>('query-cpus-fast');
      assert.equal(cpus.length, 2);
    } finally {
      await client?.close();
      await qemu.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
