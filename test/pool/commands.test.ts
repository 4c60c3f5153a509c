import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PoolClient } from '../../plugin/pool/client.js';
import { reportFromWindow } from '../../plugin/pool/report.js';
import { packageRoot } from '../../plugin/pool/wire.js';
import { parseSize } from '../../plugin/pool/config.js';
import { tempDir, until } from './helpers.js';
import { syntheticWindow } from './synthetic-vm.js';

const run = promisify(execFile);
const CLI = join(packageRoot(), 'dist', 'plugin', 'cli.js');

describe('hmmv pool / hmmv pool status / hmmv status commands', function () {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  const clients: PoolClient[] = [];
  after(async () => {
    for (const c of clients) await c.close();
    for (const ch of children) if (ch.exitCode === null) process.kill(ch.pid!, 'SIGKILL');
    tmp.cleanup();
  });

  it('runs the daemon; status shows the pool and each VM; SIGTERM stops it', async () => {
    const sock = join(tmp.dir, 'pool.sock');
    const child = spawn(process.execPath, [CLI, 'pool', '--dram', '64MiB', '--socket', sock, '--interval-ms', '100', '--hysteresis-pages', '0', '--settle-ms', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('listening on unix:'), 'the daemon to listen');
    assert.match(out, /16384 pages, policy utility/);

    const c = new PoolClient({
      endpoint: { socketPath: sock },
      hello: { domain: 'vm-alpha', pageCount: 20_000, pageSizeBytes: 4096, staticQuotaPages: 4096, migrationPagesPerSec: 1e6 },
      apply: () => {},
    });
    clients.push(c);
    c.start();
    await until(() => c.connected, 'the manager to join');
    c.report(reportFromWindow(syntheticWindow(20_000, 12_000, 4096, 7)));
    let text = '';
    for (let i = 0; i < 100 && !text.includes('100.0%'); i++) {
      text = (await run(process.execPath, [CLI, 'pool', 'status', '--socket', sock])).stdout;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /^pool: 64\.0 MiB DRAM, policy utility, 64\.0 MiB allocated to 1 VM\(s\)/m);
    assert.match(text, /DOMAIN\s+LINK\s+QUOTA\s+SHARE/);
    assert.match(text, /vm-alpha\s+up\s+64\.0 MiB\s+100\.0%/);
    // `hmmv status` lists the managed domains, then the pool.
    const all = (await run(process.execPath, [CLI, 'status', '--pool-socket', sock])).stdout;
    assert.match(all, /^pool: 64\.0 MiB DRAM, policy utility/m);
    assert.match(all, /vm-alpha\s+up\s+64\.0 MiB\s+100\.0%/);
    const json = JSON.parse((await run(process.execPath, [CLI, 'pool', 'status', '--socket', sock, '--json'])).stdout) as { vms: { domain: string; hotSetPages: number }[] };
    assert.equal(json.vms[0]!.domain, 'vm-alpha');
    process.kill(child.pid!, 'SIGTERM');
    await until(() => child.exitCode !== null, 'the daemon to stop');
    assert.equal(child.exitCode, 0);
  });

  it('status without a daemon says so (and `hmmv pool status` fails)', async () => {
    const all = await run(process.execPath, [CLI, 'status', '--pool-socket', join(tmp.dir, 'none.sock')]);
    assert.match(all.stdout, /pool: no daemon at .*none\.sock.*static quotas/);
    const r = await run(process.execPath, [CLI, 'pool', 'status', '--socket', join(tmp.dir, 'none.sock')]).then(
      () => assert.fail('status should fail without a daemon'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /pool: no daemon at .*none\.sock.*static quotas/);
  });

  it('a bad config is refused with the field named', async () => {
    const cfg = join(tmp.dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ poolPages: 100, graceMs: -1 }));
    const r = await run(process.execPath, [CLI, 'pool', '--config', cfg, '--socket', join(tmp.dir, 'b.sock')]).then(
      () => assert.fail('should refuse'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.json: pool config field graceMs must be >= 0/);
    const r2 = await run(process.execPath, [CLI, 'pool', '--dram', 'lots', '--socket', join(tmp.dir, 'b.sock')]).then(
      () => assert.fail('should refuse'),
      (err: { stderr: string }) => err,
    );
    assert.match(r2.stderr, /size "lots" is not a size/);
  });

  it('parses sizes', () => {
    assert.equal(parseSize('64GiB'), 64 * 1024 ** 3);
    assert.equal(parseSize('512M'), 512 * 1024 ** 2);
    assert.equal(parseSize('4096'), 4096);
  });
});
