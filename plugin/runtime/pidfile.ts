/**
 * Manager pidfiles under /run/hmmv. A pidfile records the pid and the process's
 * start time (from /proc/PID/stat), so a pid reused by another process after a
 * crash or a reboot is never mistaken for our manager and never signalled.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface PidfileRecord {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot). */
  startTime: string;
  domain: string;
}

/**
 * Start time of a live process, or undefined when there is no such process or
 * it has exited and waits to be reaped (a zombie: its parent is init, which
 * may take seconds to reap it).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

function processCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Writes the pidfile atomically (write + rename). */
export function writePidfile(file: string, record: PidfileRecord): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  renameSync(tmp, file);
}

export function readPidfile(file: string): PidfileRecord | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = JSON.parse(text) as PidfileRecord;
    return Number.isInteger(r.pid) && r.pid > 1 && typeof r.startTime === 'string' && typeof r.domain === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** True when the record's process still runs, is the same process, and is `hmmv manage` for its domain. */
export function isOurManager(record: PidfileRecord): boolean {
  if (processStartTime(record.pid) !== record.startTime) return false;
  const argv = processCmdline(record.pid);
  const i = argv.indexOf('manage');
  return i >= 0 && argv.includes('--domain') && argv[argv.indexOf('--domain') + 1] === record.domain;
}

/** The live manager recorded in `file`, or undefined (missing, unreadable, stale or not ours). */
export function liveManager(file: string): PidfileRecord | undefined {
  const record = readPidfile(file);
  return record && isOurManager(record) ? record : undefined;
}

/** Removes the pidfile if it still names `pid` (a newer manager's pidfile is left alone). */
export function removePidfileIfOwn(file: string, pid: number): void {
  if (readPidfile(file)?.pid === pid) rmSync(file, { force: true });
}
