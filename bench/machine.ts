/** The machine a benchmark ran on, for the head of its JSON (load average is added by each bench where it samples it). */
import os from 'node:os';

export function machineHeader(): { date: string; node: string; cpu: string | undefined; cores: number } {
  return { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length };
}
