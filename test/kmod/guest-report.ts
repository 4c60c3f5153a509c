/** One measured fact from inside the guest, as the host-side suites read it. */
export function report(check: string, data: Record<string, unknown>): void {
  process.stdout.write(`HMMV-RESULT ${JSON.stringify({ check, ...data })}\n`);
}
