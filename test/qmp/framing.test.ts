import assert from 'node:assert/strict';
import { LineSplitter } from '../../qmp/framing.js';
import { QmpProtocolError } from '../../qmp/errors.js';

describe('qmp/framing LineSplitter', () => {
  it('joins a line split across reads and splits several lines in one read', () => {
    const s = new LineSplitter(1024);
    assert.deepEqual(s.push(Buffer.from('{"return"')), []);
    assert.equal(s.pendingBytes, 9);
    assert.deepEqual(s.push(Buffer.from(': {}, "id": 1}\r\n{"a":1}\r\n{"b"')), ['{"return": {}, "id": 1}', '{"a":1}']);
    assert.deepEqual(s.push(Buffer.from(':2}\n')), ['{"b":2}']);
    assert.equal(s.pendingBytes, 0);
  });

  it('drops blank lines and strips the monitor\'s \\r', () => {
    const s = new LineSplitter(1024);
    assert.deepEqual(s.push(Buffer.from('\r\n\n  \r\n{"x":1}\r\n')), ['{"x":1}']);
  });

  it('decodes a multi-byte UTF-8 character split between two reads', () => {
    const s = new LineSplitter(1024);
    const bytes = Buffer.from('{"desc":"caf\u00e9 \u2713"}\n', 'utf8');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two-byte é
    assert.deepEqual(s.push(bytes.subarray(0, cut)), []);
    assert.deepEqual(s.push(bytes.subarray(cut)), ['{"desc":"caf\u00e9 \u2713"}']);
  });

  it('accepts a line of exactly the bound and rejects one byte more, naming the bound', () => {
    const s = new LineSplitter(16);
    assert.deepEqual(s.push(Buffer.from('x'.repeat(16) + '\n')), ['x'.repeat(16)]);
    const t = new LineSplitter(16);
    t.push(Buffer.from('y'.repeat(10)));
    assert.throws(
      () => t.push(Buffer.from('y'.repeat(7))),
      (e: unknown) => e instanceof QmpProtocolError && /16-byte bound/.test(e.message),
    );
  });

  it('refuses a nonsensical bound', () => {
    assert.throws(() => new LineSplitter(0), RangeError);
  });
});
