/**
 * `hmmv pool install-service|uninstall-service`: the pool daemon as a systemd
 * service, from the files shipped in packaging/:
 *
 *   packaging/systemd/hmmv-pool.service -> /etc/systemd/system/hmmv-pool.service
 *                                          (ExecStart= names this node and this hmmv)
 *   packaging/tmpfiles.d/hmmv.conf      -> /etc/tmpfiles.d/hmmv.conf   (/run/hmmv, /var/log/hmmv)
 *   packaging/logrotate.d/hmmv          -> /etc/logrotate.d/hmmv       (/var/log/hmmv/*.log)
 *   --dram/--policy                     -> /etc/hmmv/pool.json         (only if it does not exist)
 *
 * Then, where systemd is the init system, `systemd-tmpfiles --create`,
 * `systemctl daemon-reload` and `systemctl enable --now hmmv-pool.service`.
 * `--root DIR` writes under DIR instead of / and runs nothing (images, tests).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSize, poolOptionsFromConfig, readConfigFile } from '../pool/config.js';
import { packageRoot } from '../pool/wire.js';
import { findNonRootWritableInstall } from '../util/root-only.js';

export const UNIT_NAME = 'hmmv-pool.service';
export const POOL_CONFIG = '/etc/hmmv/pool.json';
const MARKER = '# hmmv';

/** dist/plugin/cli.js of this copy of hmmv. */
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

export interface InstalledFile {
  /** Where it goes on the host (without --root). */
  target: string;
  /** The shipped file it comes from. */
  source: string;
}

export function serviceFiles(root = packageRoot()): InstalledFile[] {
  const p = (...parts: string[]) => path.join(root, 'packaging', ...parts);
  return [
    { target: `/etc/systemd/system/${UNIT_NAME}`, source: p('systemd', UNIT_NAME) },
    { target: '/etc/tmpfiles.d/hmmv.conf', source: p('tmpfiles.d', 'hmmv.conf') },
    { target: '/etc/logrotate.d/hmmv', source: p('logrotate.d', 'hmmv') },
  ];
}

const q = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);

/** The shipped unit with absolute paths of this install and the socket the config names. */
export function renderUnit(template: string, o: { node: string; cli: string; packageRoot: string; socketPath: string }): string {
  return template
    .replace(/^ExecStart=hmmv /m, `ExecStart=${q(o.node)} ${q(o.cli)} `)
    .replace(/^Documentation=.*$/m, `Documentation=file:${path.join(o.packageRoot, 'docs', 'deploying.md')}`)
    .replace('/run/hmmv/pool.sock', o.socketPath.replace(/'/g, ''));
}

export interface ServiceInstallOptions {
  /** Install under this directory instead of / (then nothing is started). */
  root?: string;
  /** Pool size for a new /etc/hmmv/pool.json, e.g. 64GiB. */
  dram?: string;
  policy?: string;
  /** Do not run systemctl (write the files only). */
  noStart?: boolean;
  node?: string;
  cli?: string;
  packageRoot?: string;
}

export interface ServiceInstallResult {
  written: string[];
  kept: string[];
  /** What was run, or what the operator has to run. */
  steps: string[];
}

const systemdRuns = (): boolean => existsSync('/run/systemd/system');

function writeAtomic(file: string, text: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.hmmv-tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

function run(cmd: string, args: string[]): string {
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return `ran: ${cmd} ${args.join(' ')}`;
}

export function installService(o: ServiceInstallOptions = {}): ServiceInstallResult {
  const root = o.root ?? '/';
  const node = o.node ?? process.execPath;
  const cli = o.cli ?? CLI;
  const pkg = o.packageRoot ?? packageRoot();
  const at = (target: string) => path.join(root, target);
  const bad = findNonRootWritableInstall(node, cli, pkg);
  if (bad)
    throw new Error(
      `refusing to install the service: ${bad.path} ${bad.reason}; systemd runs the pool daemon as root. ` +
        `Install hmmv as root (npm install -g ./hmmv-VERSION.tgz), or make the path root's alone (chown root:root, chmod go-w)`,
    );

  const result: ServiceInstallResult = { written: [], kept: [], steps: [] };
  // The config first: nothing is installed if it is missing or wrong.
  const configFile = at(POOL_CONFIG);
  let config: Record<string, unknown>;
  if (existsSync(configFile)) {
    if (o.dram !== undefined || o.policy !== undefined) throw new Error(`${configFile} exists: edit it (or remove it) instead of giving --dram/--policy`);
    config = readConfigFile(configFile);
    poolOptionsFromConfig(config, configFile);
    result.kept.push(configFile);
  } else {
    if (o.dram === undefined) throw new Error(`no ${POOL_CONFIG} yet: give --dram SIZE (the DRAM the pool divides among the VMs, e.g. 64GiB)`);
    config = { poolPages: Math.floor(parseSize(o.dram) / 4096), pageSizeBytes: 4096, ...(o.policy ? { policy: o.policy } : {}) };
    poolOptionsFromConfig(config, '--dram/--policy');
    writeAtomic(configFile, `${JSON.stringify(config, null, 2)}\n`, 0o644);
    result.written.push(configFile);
  }
  const socketPath = typeof config['socketPath'] === 'string' ? config['socketPath'] : '/run/hmmv/pool.sock';

  for (const f of serviceFiles(pkg)) {
    const template = readFileSync(f.source, 'utf8');
    const text = f.target.endsWith('.service') ? renderUnit(template, { node, cli, packageRoot: pkg, socketPath }) : template;
    const dest = at(f.target);
    if (existsSync(dest) && !readFileSync(dest, 'utf8').startsWith(MARKER)) throw new Error(`${dest} exists and is not hmmv's: not overwriting it`);
    writeAtomic(dest, text, 0o644);
    result.written.push(dest);
  }

  const enable = [`systemd-tmpfiles --create /etc/tmpfiles.d/hmmv.conf`, 'systemctl daemon-reload', `systemctl enable --now ${UNIT_NAME}`];
  if (root !== '/' || o.noStart) result.steps.push(...enable.map((s) => `to do: ${s}`));
  else if (!systemdRuns()) {
    for (const d of ['/run/hmmv', '/run/hmmv/qmp']) mkdirSync(d, { recursive: true, mode: 0o755 });
    mkdirSync('/var/log/hmmv', { recursive: true, mode: 0o750 });
    result.steps.push(
      'systemd is not the init system here: made /run/hmmv and /var/log/hmmv; start the pool yourself before libvirtd ' +
        `(${node} ${cli} pool serve --config ${POOL_CONFIG})`,
    );
  } else {
    result.steps.push(run('systemd-tmpfiles', ['--create', '/etc/tmpfiles.d/hmmv.conf']));
    result.steps.push(run('systemctl', ['daemon-reload']));
    result.steps.push(run('systemctl', ['enable', '--now', UNIT_NAME]));
  }
  return result;
}

export function uninstallService(o: { root?: string; noStop?: boolean } = {}): ServiceInstallResult {
  const root = o.root ?? '/';
  const result: ServiceInstallResult = { written: [], kept: [], steps: [] };
  if (root === '/' && !o.noStop && systemdRuns() && existsSync(`/etc/systemd/system/${UNIT_NAME}`))
    result.steps.push(run('systemctl', ['disable', '--now', UNIT_NAME]));
  for (const f of serviceFiles()) {
    const dest = path.join(root, f.target);
    if (!existsSync(dest)) continue;
    if (!readFileSync(dest, 'utf8').startsWith(MARKER)) throw new Error(`${dest} is not hmmv's: not removing it`);
    rmSync(dest);
    result.written.push(`removed ${dest}`);
  }
  if (root === '/' && !o.noStop && systemdRuns()) result.steps.push(run('systemctl', ['daemon-reload']));
  const config = path.join(root, POOL_CONFIG);
  if (existsSync(config)) result.kept.push(config);
  return result;
}
