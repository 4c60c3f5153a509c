/**
 * How the in-guest programs of the test bed report: one `HMMV-RESULT {json}`
 * line per fact on the console; `atSeconds` is when (since the program
 * started), so the suite's wall time can be told step by step.
 */
export function report(check: string, data: Record<string, unknown>): void {
  process.stdout.write(`HMMV-RESULT ${JSON.stringify({ check, atSeconds: Number(process.uptime().toFixed(1)), ...data })}\n`);
}

/** A progress line (shown by the host suite when HMMV_TESTBED_VERBOSE is set; kept in the console log). */
export function progress(message: string): void {
  const up = Number((process.uptime()).toFixed(1));
  process.stdout.write(`HMMV-LOG [${up}s] ${message}\n`);
}
