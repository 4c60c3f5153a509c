/**
 * Errors raised by the QMP client. Every error names what went wrong and, where
 * there is one, the command it concerns, so a caller's log line is enough.
 */

/** Base class: `instanceof QmpClientError` catches every error from qmp/. */
export class QmpClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** QEMU answered a command with `{"error": {"class", "desc"}}`. */
export class QmpError extends QmpClientError {
  /** QEMU's error class, e.g. `CommandNotFound`, `GenericError`, `DeviceNotFound`. */
  readonly errorClass: string;
  /** QEMU's human-readable description, unchanged. */
  readonly desc: string;
  readonly command: string;

  constructor(command: string, errorClass: string, desc: string) {
    super(`QMP command '${command}' failed: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The connection closed (peer died, client closed, protocol failure) before a reply came. */
export class QmpClosedError extends QmpClientError {
  /** The command that was waiting, or undefined when no command was involved. */
  readonly command: string | undefined;
  readonly reason: string;

  constructor(command: string | undefined, reason: string, options?: { cause?: unknown }) {
    super(
      command === undefined
        ? `QMP connection closed: ${reason}`
        : `QMP command '${command}' failed: connection closed before the reply (${reason})`,
      options,
    );
    this.command = command;
    this.reason = reason;
  }
}

/** No reply within the command's timeout. QEMU may still run the command later. */
export class QmpTimeoutError extends QmpClientError {
  readonly command: string;
  readonly timeoutMs: number;

  constructor(command: string, timeoutMs: number) {
    super(`QMP command '${command}' got no reply within ${timeoutMs} ms`);
    this.command = command;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The peer accepted the connection but sent no QMP greeting in time. QEMU
 * serves one client per QMP socket: a second client is accepted by the kernel
 * but waits, greeting-less, until the first one leaves.
 */
export class QmpGreetingTimeoutError extends QmpClientError {
  readonly address: string;
  readonly timeoutMs: number;

  constructor(address: string, timeoutMs: number) {
    super(
      `no QMP greeting from ${address} within ${timeoutMs} ms: the socket accepted the connection ` +
        'but QEMU did not greet. QEMU serves one client per QMP socket, so another client ' +
        '(libvirt, another manager) probably holds it; give this client its own -qmp socket',
    );
    this.address = address;
    this.timeoutMs = timeoutMs;
  }
}

/** The peer broke the protocol: a line that is not JSON, an oversized message, a bad greeting. */
export class QmpProtocolError extends QmpClientError {}

/** The socket could not be connected at all (no such socket, refused, ...). */
export class QmpConnectError extends QmpClientError {
  readonly address: string;

  constructor(address: string, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`cannot connect to QMP at ${address}: ${detail}`, { cause });
    this.address = address;
  }
}

/** Feature detection: this QEMU does not offer a command hmmv needs. */
export class QmpCommandMissingError extends QmpClientError {
  readonly command: string;

  constructor(command: string, qemuVersion: string, purpose?: string) {
    super(
      `QEMU ${qemuVersion} does not offer the QMP command '${command}'` +
        (purpose ? ` (needed to ${purpose})` : '') +
        ' (checked with query-commands)',
    );
    this.command = command;
  }
}

/** HMP text (`info ramblock`, `info mtree -f`, ...) that does not have the expected shape. */
export class HmpParseError extends QmpClientError {
  readonly what: string;
  readonly lineNumber: number;
  readonly line: string;

  constructor(what: string, lineNumber: number, line: string, problem: string) {
    super(`cannot parse '${what}' output, line ${lineNumber}: ${problem}: ${JSON.stringify(line)}`);
    this.what = what;
    this.lineNumber = lineNumber;
    this.line = line;
  }
}

/** An awaited QMP event did not arrive in time. */
export class QmpEventTimeoutError extends QmpClientError {
  readonly event: string;
  readonly timeoutMs: number;

  constructor(event: string, timeoutMs: number) {
    super(`QMP event '${event}' did not arrive within ${timeoutMs} ms`);
    this.event = event;
    this.timeoutMs = timeoutMs;
  }
}
