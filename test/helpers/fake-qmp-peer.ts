/**
 * A fake QMP peer (a net.Server on a unix socket) for framing faults real QEMU
 * will not produce on demand: garbage lines, oversized messages, no greeting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}\r\n';

export interface FakePeer {
  path: string;
  /** Sockets accepted so far. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

export async function startFakePeer(onConnection: (socket: net.Socket) => void): Promise<FakePeer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hmmv-fakeqmp-'));
  const socketPath = path.join(dir, 'qmp.sock');
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    path: socketPath,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls `onCommand` with each parsed command the client sends. */
export function onCommands(socket: net.Socket, onCommand: (cmd: { execute: string; id?: unknown; arguments?: unknown }) => void): void {
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onCommand(JSON.parse(line));
    }
  });
}

/** A peer that greets, accepts capabilities and answers every command with `{"return": {}}` after `answer` decides. */
export function greetAndServe(
  socket: net.Socket,
  answer: (cmd: { execute: string; id?: unknown }, socket: net.Socket) => void,
): void {
  socket.write(GREETING);
  onCommands(socket, (cmd) => {
    if (cmd.execute === 'qmp_capabilities') socket.write(JSON.stringify({ return: {}, id: cmd.id }) + '\r\n');
    else answer(cmd, socket);
  });
}
