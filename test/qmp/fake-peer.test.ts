/**
 * Framing faults from a fake peer: what real QEMU does not produce on demand.
 * Everything else is tested against real QEMU (client.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QmpClient } from '../../qmp/client.js';
import {
  QmpClosedError,
  QmpConnectError,
  QmpGreetingTimeoutError,
  QmpProtocolError,
} from '../../qmp/errors.js';
import { GREETING, greetAndServe, startFakePeer, type FakePeer } from '../helpers/fake-qmp-peer.js';

describe('qmp/client against a fake peer (framing faults)', () => {
  let peer: FakePeer | undefined;
  let client: QmpClient | undefined;
  afterEach(async () => {
    await client?.close();
    await peer?.close();
    client = undefined;
    peer = undefined;
  });

  it('survives a line that is not JSON: reports it and keeps serving commands', async () => {
    peer = await startFakePeer((socket) =>
      greetAndServe(socket, (cmd, s) => {
        s.write('this is not json\r\n');
        s.write(JSON.stringify({ return: { echoed: cmd.execute }, id: cmd.id }) + '\r\n');
      }),
    );
    client = await QmpClient.connect({ path: peer.path });
    const problems: QmpProtocolError[] = [];
    client.on('protocol-error', (e: QmpProtocolError) => problems.push(e));
    assert.deepEqual(await client.execute('query-a'), { echoed: 'query-a' });
    assert.deepEqual(await client.execute('query-b'), { echoed: 'query-b' });
    assert.equal(problems.length, 2);
    assert.ok(problems[0] instanceof QmpProtocolError);
    assert.match(problems[0].message, /not JSON: "this is not json"/);
    assert.equal(client.state, 'ready');
  });

  it('reassembles replies written one byte at a time and splits replies written together', async () => {
    peer = await startFakePeer((socket) => {
      const held: { id?: unknown; execute: string }[] = [];
      greetAndServe(socket, (cmd, s) => {
        held.push(cmd);
        if (held.length < 3) return;
        // All three replies, reversed, in one write...
        s.write(held.reverse().map((c) => JSON.stringify({ return: c.execute, id: c.id }) + '\r\n').join(''));
      });
    });
    // ...and the greeting byte by byte.
    const slow = await startFakePeer(async (socket) => {
      for (const ch of GREETING) {
        socket.write(ch);
        await new Promise((r) => setImmediate(r));
      }
      socket.on('data', (d: Buffer) => {
        const cmd = JSON.parse(d.toString()) as { id: unknown };
        const reply = JSON.stringify({ return: {}, id: cmd.id }) + '\r\n';
        for (let i = 0; i < reply.length; i++) socket.write(reply[i]!);
      });
    });
    try {
      const slowClient = await QmpClient.connect({ path: slow.path });
      assert.equal(slowClient.greeting.version.package, 'fake');
      await slowClient.close();
    } finally {
      await slow.close();
    }
    client = await QmpClient.connect({ path: peer.path });
    const results = await Promise.all([client.execute('one'), client.execute('two'), client.execute('three')]);
    assert.deepEqual(results, ['one', 'two', 'three']);
  });

  it('closes the connection on an oversized message and rejects pending commands clearly', async () => {
    peer = await startFakePeer((socket) =>
      greetAndServe(socket, (_cmd, s) => {
        s.write('{"return": "' + 'x'.repeat(5000)); // never terminated, over the bound
      }),
    );
    client = await QmpClient.connect({ path: peer.path }, { maxMessageBytes: 4096 });
    const problems: Error[] = [];
    client.on('protocol-error', (e: Error) => problems.push(e));
    const closed = new Promise((resolve) => client!.once('close', resolve));
    await assert.rejects(client.execute('query-huge'), (e: unknown) => {
      assert.ok(e instanceof QmpClosedError, String(e));
      assert.equal(e.command, 'query-huge');
      assert.match(e.message, /query-huge/);
      assert.match(e.message, /4096-byte bound/);
      return true;
    });
    await closed;
    assert.equal(client.state, 'closed');
    assert.equal(problems.length, 1);
    await assert.rejects(client.execute('query-after'), QmpClosedError);
  });

  it('reports a peer that accepts but never greets, after the greeting timeout', async () => {
    peer = await startFakePeer(() => undefined);
    const started = Date.now();
    await assert.rejects(QmpClient.connect({ path: peer.path }, { greetingTimeoutMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof QmpGreetingTimeoutError, String(e));
      assert.match(e.message, /one client per QMP socket/);
      assert.match(e.message, new RegExp(peer!.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
      return true;
    });
    assert.ok(Date.now() - started >= 250);
  });

  it('rejects a greeting that is not QMP', async () => {
    peer = await startFakePeer((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n'));
    await assert.rejects(QmpClient.connect({ path: peer.path }, { greetingTimeoutMs: 2000 }), QmpProtocolError);
  });

  it('rejects a peer that hangs up before greeting', async () => {
    peer = await startFakePeer((socket) => socket.end());
    await assert.rejects(QmpClient.connect({ path: peer.path }, { greetingTimeoutMs: 2000 }), /closed the connection before greeting/);
  });

  it('names the socket when nothing listens there', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-noqmp-'));
    try {
      const where = path.join(dir, 'absent.sock');
      await assert.rejects(QmpClient.connect({ path: where }), (e: unknown) => {
        assert.ok(e instanceof QmpConnectError);
        assert.match(e.message, /absent\.sock/);
        assert.match(e.message, /ENOENT/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
