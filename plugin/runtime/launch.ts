/**
 * Starting and stopping a domain's manager from the libvirt hook. The manager
 * runs fully detached: its own session (setsid), stdin from /dev/null, output
 * appended to its log. It must not inherit the hook's stdout/stderr pipes:
 * libvirtd reads those until EOF, so a child holding them freezes libvirtd.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LOG_DIR, RUN_DIR, logPath, pidfilePath } from './paths.js';
import { liveManager, processStartTime, readPidfile, removePidfileIfOwn, writePidfile, type PidfileRecord } from './pidfile.js';

/** dist/plugin/cli.js, next to this module's folder. */
export const CLI_PATH = fileURLToPath(new URL('../cli.js', import.meta.url));

/** Launches `hmmv manage --domain NAME` detached and records its pidfile. Returns its pid. */
export function launchManager(domain: string, domainXmlFile: string): PidfileRecord {
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const log = openSync(logPath(domain), 'a');
  try {
    const child = spawn(process.execPath, [CLI_PATH, 'manage', '--domain', domain, '--domain-xml', domainXmlFile], {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: '/',
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start the manager for '${domain}' (${process.execPath} ${CLI_PATH})`);
    // The start time pins the record to this very process (pids get reused).
    const record: PidfileRecord = { pid: child.pid, startTime: processStartTime(child.pid) ?? '', domain };
    writePidfile(pidfilePath(domain), record);
    return record;
  } finally {
    closeSync(log);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops the domain's manager if the pidfile names a live manager of ours:
 * SIGTERM, then SIGKILL after `graceMs`. Removes the pidfile. Returns what it did.
 */
export async function stopManager(domain: string, graceMs = 3000): Promise<'stopped' | 'killed' | 'not-running'> {
  const file = pidfilePath(domain);
  const record = liveManager(file);
  if (!record) {
    const stale = readPidfile(file);
    if (stale) removePidfileIfOwn(file, stale.pid);
    return 'not-running';
  }
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (processStartTime(record.pid) !== record.startTime) break;
    await sleep(25);
  }
  let result: 'stopped' | 'killed' = 'stopped';
  if (processStartTime(record.pid) === record.startTime) {
    process.kill(record.pid, 'SIGKILL');
    result = 'killed';
  }
  removePidfileIfOwn(file, record.pid);
  return result;
}
